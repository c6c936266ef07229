/**
 * A few LMTP connections used side by side. Dovecot stores each delivery with an fsync, so
 * one connection spends most of its time waiting; a handful in parallel multiplies the rate.
 * Connections open on demand, so an account with little new mail uses one.
 */
import { ProtocolError } from '../core/errors.js';
import { LmtpClient, type LmtpClientOptions, type LmtpTarget } from './lmtp.js';

export class LmtpPool {
  private readonly idle: LmtpClient[] = [];
  private readonly all = new Set<LmtpClient>();
  private readonly waiters: (() => void)[] = [];

  constructor(
    private readonly target: LmtpTarget,
    private readonly opts: LmtpClientOptions,
    /** Connections at most. */
    readonly size: number,
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
      if (this.all.size < this.size) {
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
    this.all.delete(client);
    void client.close();
    this.waiters.shift()?.();
  }

  /** Closes every connection (QUIT); safe to call twice. */
  async close(): Promise<void> {
    const clients = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    await Promise.allSettled(clients.map((c) => c.close()));
  }
}
