/**
 * A few LMTP connections used side by side. Dovecot stores each delivery with an fsync, so
 * one connection spends most of its time waiting; a handful in parallel multiplies the rate.
 * Connections open on demand, so an account with little new mail uses one.
 */
import { ProtocolError } from '../core/errors.js';
import { LmtpClient, type LmtpClientOptions, type LmtpTarget } from './lmtp.js';

/**
 * Connection slots shared by every pool of a process: Dovecot serves LMTP with at most
 * `process_limit` (default 100) sessions and drops the rest, so one worker running hundreds of
 * accounts at once must not open hundreds of connections. A pool waits for a slot instead.
 */
export class ConnectionSlots {
  private free: number;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly limit: number) {
    this.free = limit;
  }

  async take(): Promise<void> {
    while (this.free === 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.free--;
  }

  /** Takes a slot if one is free now. */
  tryTake(): boolean {
    if (this.free === 0) return false;
    this.free--;
    return true;
  }

  give(): void {
    this.free++;
    this.waiters.shift()?.();
  }
}

/**
 * A process's connection slots, made by whoever runs jobs (a worker set, `mailjobs run`) and
 * handed to them: one set per limit, so a limit changed by a config reload applies to new pools.
 */
export class ProcessLmtpSlots {
  private current: ConnectionSlots | undefined;

  forLimit(limit: number): ConnectionSlots {
    if (this.current?.limit !== limit) this.current = new ConnectionSlots(limit);
    return this.current;
  }
}

export class LmtpPool {
  private readonly idle: LmtpClient[] = [];
  private readonly all = new Set<LmtpClient>();
  private readonly waiters: (() => void)[] = [];
  /** Connections being opened (slot taken or awaited, not yet in `all`). */
  private opening = 0;

  constructor(
    private readonly target: LmtpTarget,
    private readonly opts: LmtpClientOptions,
    /** Connections at most. */
    readonly size: number,
    /** Slots shared with the other pools of this process. */
    private readonly slots: ConnectionSlots,
  ) {}

  /** Runs `fn` with a connected client; waits while all `size` are busy. */
  async use<T>(fn: (client: LmtpClient) => Promise<T>): Promise<T> {
    const client = await this.acquire();
    try {
      const result = await fn(client);
      this.release(client);
      return result;
    } catch (err) {
      // A reply (4xx/5xx) leaves the session usable; anything else (timeout, lost connection) does not.
      if (err instanceof ProtocolError && err.responseCode !== undefined) this.release(client);
      else this.discard(client);
      throw err;
    }
  }

  private async acquire(): Promise<LmtpClient> {
    for (;;) {
      const idle = this.idle.pop();
      if (idle) return idle;
      // A pool's first connection waits for a slot; more open only when a slot is free at once.
      const open = this.all.size + this.opening;
      const first = open === 0;
      if (open < this.size && (first || this.slots.tryTake())) {
        this.opening++;
        if (first) await this.slots.take();
        this.opening--;
        const client = new LmtpClient(this.target, this.opts);
        this.all.add(client);
        try {
          await client.connect();
        } catch (err) {
          this.discard(client);
          throw err;
        }
        return client;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private release(client: LmtpClient): void {
    this.idle.push(client);
    this.waiters.shift()?.();
  }

  private discard(client: LmtpClient): void {
    if (this.all.delete(client)) this.slots.give();
    void client.close();
    this.waiters.shift()?.();
  }

  /** Closes every connection (QUIT); safe to call twice. */
  async close(): Promise<void> {
    const clients = [...this.all];
    for (let i = 0; i < clients.length; i++) this.slots.give();
    this.all.clear();
    this.idle.length = 0;
    await Promise.allSettled(clients.map((c) => c.close()));
  }
}
