/**
 * What getmail remembers per account, in Redis, written after each message (never only at
 * the end of a run), so a crash at any point loses nothing and redelivers nothing:
 *  - `seen`: remote message key → retrieval time (ms), for "new?" and `delete: afterDays`;
 *    with a `rebuilt` field once rebuilt from the local mailbox, so the hash exists exactly
 *    while the account has state (a hash is evicted or lost whole, never in part);
 *  - `inflight`: keys whose LMTP outcome is unknown until recorded (crash window);
 *  - `ids`: identity digests of delivered messages (Message-ID + header), the fallback when
 *    a server changes UIDVALIDITY or renumbers its UIDLs;
 *  - `validity`: folder → UIDVALIDITY last seen;
 *  - `failures`: key → {@link FailureRecord} of a message that failed and is not delivered yet
 *    (held once it failed `holdAfterFailures` runs in a row);
 * How runs went (last success, failures in a row) is the worker's run record, not kept here.
 * Every key expires `stateRetentionDays` after the account's last run: a deleted connector's
 * state is kept for a while (re-adding it redelivers nothing), then cleaned.
 */
import type { RedisClient } from '../../core/redis.js';

/** A message that failed on its own (see `MessageError`) in consecutive runs, not delivered yet. */
export interface FailureRecord {
  /** Consecutive runs that failed it. */
  failures: number;
  /** Why the last try failed (no body, no secret). */
  reason: string;
  messageId?: string;
  /** When it was held (not tried on every run any more); absent while it is still tried. */
  heldAt?: number;
  /** An admin asked to deliver it anyway: the next run delivers it unscanned, with the null sender. */
  deliverAnyway?: boolean;
}

/** A held message as `status`, the job result and the dashboard show it. */
export interface HeldMessage {
  key: string;
  messageId?: string;
  reason: string;
  failures: number;
  since: number;
}

/** The held ones of `failures`, oldest first. */
export function heldMessages(failures: ReadonlyMap<string, FailureRecord>): HeldMessage[] {
  return [...failures]
    .filter(([, r]) => r.heldAt !== undefined)
    .map(([key, r]) => ({
      key,
      ...(r.messageId ? { messageId: r.messageId } : {}),
      reason: r.reason,
      failures: r.failures,
      since: r.heldAt!,
    }))
    .sort((a, b) => a.since - b.since);
}

/** The field of `seen` that marks the state as present; no message key has it (keys hold a `:`). */
const REBUILT_FIELD = 'rebuilt';

export class SeenUidStore {
  private readonly keys: {
    seen: string;
    inflight: string;
    ids: string;
    validity: string;
    failures: string;
  };

  constructor(
    private readonly redis: RedisClient,
    key: (...parts: string[]) => string,
    account: string,
    private readonly retentionSeconds: number,
  ) {
    const k = (name: string) => key('getmail', account, name);
    this.keys = {
      seen: k('seen'),
      inflight: k('inflight'),
      ids: k('ids'),
      validity: k('validity'),
      failures: k('failures'),
    };
  }

  /** Remote keys already handled, with their retrieval time. */
  async seen(): Promise<Map<string, number>> {
    const all = await this.redis.hgetall(this.keys.seen);
    delete all[REBUILT_FIELD];
    return new Map(Object.entries(all).map(([k, v]) => [k, Number(v)]));
  }

  /**
   * False for an account with no state: never run, or its state lost (a flushed or new Redis,
   * a failover, expired). A state written before rebuilds existed counts while `seen` exists.
   */
  async exists(): Promise<boolean> {
    return (await this.redis.exists(this.keys.seen)) > 0;
  }

  /** Records `keys` as handled at `at`, and marks the state present, even with no key. */
  async seed(keys: string[], at = Date.now()): Promise<void> {
    const m = this.redis.multi();
    for (let i = 0; i < keys.length; i += 1000)
      m.hset(this.keys.seen, Object.fromEntries(keys.slice(i, i + 1000).map((k) => [k, at])));
    m.hset(this.keys.seen, REBUILT_FIELD, at);
    m.expire(this.keys.seen, this.retentionSeconds);
    await m.exec();
  }

  async inflight(): Promise<Set<string>> {
    return new Set(await this.redis.hkeys(this.keys.inflight));
  }

  /**
   * Before LMTP DATA: the outcome of these messages is unknown until `recordDone`. Marking a
   * few ahead in one write is safe: a key marked but never delivered only costs a look into
   * the local mailbox after a crash.
   */
  async markInflight(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const now = Date.now();
    await this.redis.hset(this.keys.inflight, Object.fromEntries(keys.map((k) => [k, now])));
  }

  /** Not delivered (4xx/5xx, or never sent): nothing to recover. */
  async clearInflight(keys: string[]): Promise<void> {
    if (keys.length > 0) await this.redis.hdel(this.keys.inflight, ...keys);
  }

  /** The message is handled (delivered, infected, discarded or found already delivered). */
  async recordDone(key: string, identity: string | undefined, at = Date.now()): Promise<void> {
    const m = this.redis
      .multi()
      .hset(this.keys.seen, key, at)
      .hdel(this.keys.inflight, key)
      .hdel(this.keys.failures, key);
    if (identity) m.zadd(this.keys.ids, at, identity);
    await m.exec();
  }

  /** Messages that failed and are not delivered yet, by key. */
  async failures(): Promise<Map<string, FailureRecord>> {
    const all = await this.redis.hgetall(this.keys.failures);
    return new Map(Object.entries(all).map(([k, v]) => [k, JSON.parse(v) as FailureRecord]));
  }

  /** Records a failed try (not delivered: nothing in flight). */
  async recordFailure(key: string, record: FailureRecord): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.failures, key, JSON.stringify(record))
      .hdel(this.keys.inflight, key)
      .exec();
  }

  /** Forgets failures of messages no longer on the server. */
  async forgetFailures(keys: string[]): Promise<void> {
    if (keys.length > 0) await this.redis.hdel(this.keys.failures, ...keys);
  }

  /** The held messages, oldest first. */
  async held(): Promise<HeldMessage[]> {
    return heldMessages(await this.failures());
  }

  /**
   * An admin's word on a held message: `retry` forgets its failures (tried at the next run as
   * any new message), `deliver-anyway` has the next run deliver it without the step that fails.
   * False when `key` is not held (delivered meanwhile, or a wrong key).
   */
  async release(key: string, how: 'retry' | 'deliver-anyway'): Promise<boolean> {
    const raw = await this.redis.hget(this.keys.failures, key);
    const record = raw === null ? undefined : (JSON.parse(raw) as FailureRecord);
    if (record?.heldAt === undefined) return false;
    if (how === 'retry') await this.redis.hdel(this.keys.failures, key);
    else await this.redis.hset(this.keys.failures, key, JSON.stringify({ ...record, deliverAnyway: true }));
    return true;
  }

  async hasIdentity(identity: string): Promise<boolean> {
    return (await this.redis.zscore(this.keys.ids, identity)) !== null;
  }

  /** The UIDVALIDITY last seen for `folder`, then stores `current`. */
  async swapValidity(folder: string, current: string): Promise<string | null> {
    const [[, previous]] = (await this.redis
      .multi()
      .hget(this.keys.validity, folder)
      .hset(this.keys.validity, folder, current)
      .exec()) as [[unknown, string | null], unknown];
    return previous;
  }

  /** Forgets seen keys no longer on the server (deleted there), so the hash stays bounded. */
  async forget(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000)
      await this.redis.hdel(this.keys.seen, ...keys.slice(i, i + 1000));
  }

  /**
   * At the end of every run, whatever its outcome: every key lives `retentionSeconds` more, and
   * identities older than that are dropped.
   */
  async extendRetention(now = Date.now()): Promise<void> {
    const m = this.redis.multi();
    m.zremrangebyscore(this.keys.ids, 0, now - this.retentionSeconds * 1000);
    for (const key of Object.values(this.keys)) m.expire(key, this.retentionSeconds);
    await m.exec();
  }
}
