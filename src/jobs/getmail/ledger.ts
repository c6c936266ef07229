/**
 * The books of one getmail run: what the account has seen, what is in flight, which messages
 * failed or are held, kept in memory for planning and written through to Redis
 * ({@link SeenUidStore}) after each message, so a crash at any point loses nothing.
 */
import type { Memory } from './plan.js';
import { heldMessages, type FailureRecord, type HeldMessage, type SeenUidStore } from './state.js';

/** Messages marked in flight with one Redis write (see {@link SeenUidStore.markInflight}). */
export const INFLIGHT_BATCH = 16;

export class FetchLedger {
  private seen = new Map<string, number>();
  private inflight = new Set<string>();
  private failures = new Map<string, FailureRecord>();
  /** Keys marked in flight in Redis by this run and not settled yet, with the write marking them. */
  private readonly marked = new Map<string, Promise<void>>();
  /** The folder's keys in retrieval order, and those a batch has marked already (never twice: a settled key must not go back in flight). */
  private upcoming = { keys: [] as string[], index: new Map<string, number>(), batched: new Set<string>() };

  constructor(
    private readonly store: SeenUidStore,
    /** Consecutive failed runs after which a message is held. */
    private readonly holdAfter: number,
  ) {}

  /**
   * Reads the account's books from Redis. The one place a run learns what the account has seen:
   * a rebuild of lost state belongs here, before anything is planned.
   */
  async load(): Promise<void> {
    [this.seen, this.inflight, this.failures] = await Promise.all([
      this.store.seen(),
      this.store.inflight(),
      this.store.failures(),
    ]);
  }

  /** What planning needs: seen, in flight, and held (those an admin let through are not held). */
  memory(): Memory {
    const held = new Set(
      [...this.failures].filter(([, r]) => r.heldAt !== undefined && !r.deliverAnyway).map(([k]) => k),
    );
    return { seen: this.seen, inflight: this.inflight, held };
  }

  /** True when an admin asked to deliver this held message anyway. */
  deliverAnyway(key: string): boolean {
    return this.failures.get(key)?.deliverAnyway === true;
  }

  /** True when this account delivered a message with this identity (see `messageIdentity`). */
  hasIdentity(identity: string): Promise<boolean> {
    return this.store.hasIdentity(identity);
  }

  /** Starts a folder: `keys` are the messages to retrieve, in order (for in-flight batching). */
  startFolder(keys: string[]): void {
    this.upcoming = { keys, index: new Map(keys.map((k, i) => [k, i])), batched: new Set() };
  }

  /** Marks `key` in flight, with the next few keys of the folder in the same write. */
  markInflight(key: string): Promise<void> {
    const pending = this.marked.get(key);
    if (pending) return pending;
    const { keys, index, batched } = this.upcoming;
    const at = index.get(key);
    const batch =
      at === undefined ? [key] : keys.slice(at, at + INFLIGHT_BATCH).filter((k) => !batched.has(k));
    for (const k of batch) batched.add(k);
    const write = this.store.markInflight(batch);
    write.catch(() => undefined); // awaited by the delivery that needs it
    for (const k of batch) this.marked.set(k, write);
    return write;
  }

  /** `key` goes to LMTP now: from here on its outcome is settled, or unknown (crash). */
  async handOver(key: string): Promise<void> {
    await this.markInflight(key);
    this.marked.delete(key);
  }

  /** Handed over and refused: nothing to recover. */
  async notDelivered(key: string): Promise<void> {
    await this.store.clearInflight([key]);
  }

  /** Settled for good (delivered, infected, discarded, found already delivered). */
  async done(key: string, identity: string | undefined): Promise<void> {
    const at = Date.now();
    await this.marked.get(key); // marked ahead: that write first, so this one clears it
    this.marked.delete(key);
    await this.store.recordDone(key, identity, at);
    this.seen.set(key, at);
    this.failures.delete(key);
  }

  /** A try failed on this message alone; returns its record (held once it failed `holdAfter` runs in a row). */
  async failed(key: string, failure: { reason: string; messageId?: string }): Promise<FailureRecord> {
    await this.marked.get(key);
    this.marked.delete(key);
    const failures = (this.failures.get(key)?.failures ?? 0) + 1;
    const record: FailureRecord = {
      failures,
      reason: failure.reason,
      ...(failure.messageId ? { messageId: failure.messageId } : {}),
      ...(failures >= this.holdAfter ? { heldAt: Date.now() } : {}),
    };
    await this.store.recordFailure(key, record);
    this.failures.set(key, record);
    return record;
  }

  /** What is recorded of this message's failures (none: undefined). */
  failureOf(key: string): FailureRecord | undefined {
    return this.failures.get(key);
  }

  /** Puts back what was recorded before a failure that turned out not to be the message's. */
  async restoreFailure(key: string, before: FailureRecord | undefined): Promise<void> {
    if (before) await this.store.recordFailure(key, before);
    else await this.store.forgetFailures([key]);
    if (before) this.failures.set(key, before);
    else this.failures.delete(key);
  }

  /** Ends a folder: keys marked ahead but never handed to LMTP (the run stopped) are cleared. */
  async endFolder(): Promise<void> {
    const unsent = [...this.marked.keys()];
    await Promise.allSettled(this.marked.values());
    this.marked.clear();
    await this.store.clearInflight(unsent.filter((k) => !this.inflight.has(k)));
  }

  /** Forgets what is remembered of keys no longer on the server (the hashes stay bounded). */
  async forget(keys: { seen: string[]; failures: string[] }): Promise<void> {
    await this.store.forget(keys.seen);
    await this.store.forgetFailures(keys.failures);
    for (const k of keys.failures) this.failures.delete(k);
  }

  /** Keys remembered as seen, and as failed. */
  remembered(): { seen: Iterable<string>; failures: Iterable<string> } {
    return { seen: this.seen.keys(), failures: this.failures.keys() };
  }

  /** The held messages, as the job result lists them. */
  held(): HeldMessage[] {
    return heldMessages(this.failures);
  }
}
