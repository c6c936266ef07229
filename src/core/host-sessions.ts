/**
 * A cap on concurrent sessions per remote host, across every worker sharing the Redis: many
 * accounts at one provider (outlook.office365.com, imap.gmail.com) would otherwise open more
 * connections at once than it tolerates, and it starts refusing logins or throttling. Each
 * session holds a lease in a sorted set per host (score: when the lease ends), renewed while
 * the session lives; a worker killed with its sessions open frees them when the lease ends.
 */
import { randomBytes } from 'node:crypto';
import type { RedisClient } from './redis.js';

const LEASE_MS = 60_000;
/** How often a session waiting for a free slot looks again. */
const WAIT_STEP_MS = 200;

/** Drops ended leases, then takes a slot if fewer than ARGV[2] are held. */
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0`;

/** Gives a slot back; safe to call twice. */
export type ReleaseSession = () => Promise<void>;

export class RemoteHostSessions {
  constructor(
    private readonly redis: RedisClient,
    /** `stateKey(prefix, ...parts)`. */
    private readonly key: (...parts: string[]) => string,
    /** Sessions per host at once (config `remoteSessionsPerHost`). */
    private readonly max: number,
    private readonly leaseMs = LEASE_MS,
    /**
     * The family of the leases: `remote-sessions` (one set per host), or another cap built the
     * same way (imapsync's `maxRunning`: one set named `imapsync-running`, "host" `all`).
     */
    private readonly family = 'remote-sessions',
  ) {}

  /** Waits for a session slot at `host` (until `signal` aborts); the caller releases it. */
  async acquire(host: string, signal?: AbortSignal): Promise<ReleaseSession> {
    for (;;) {
      signal?.throwIfAborted();
      const release = await this.tryAcquire(host);
      if (release) return release;
      await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
    }
  }

  /**
   * A slot at `host` now, or undefined when fewer than `reserve` + 1 are free: a long-lived
   * session (an IDLE watch) leaves `reserve` slots to the fetches it triggers, which would
   * otherwise wait for ever behind watches that never end.
   */
  async tryAcquire(host: string, reserve = 0): Promise<ReleaseSession | undefined> {
    const key = this.key(this.family, host.toLowerCase());
    const id = randomBytes(9).toString('base64url');
    const now = Date.now();
    const args = [now, this.max - reserve, now + this.leaseMs, id, this.leaseMs * 2];
    if ((await this.redis.eval(ACQUIRE, 1, key, ...args)) !== 1) return undefined;
    const renew = setInterval(() => {
      this.redis.zadd(key, 'XX', Date.now() + this.leaseMs, id).catch(() => undefined);
    }, this.leaseMs / 3);
    renew.unref();
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      clearInterval(renew);
      await this.redis.zrem(key, id);
    };
  }
}

/** The session cap of a job's config, on the job's Redis. */
export function jobHostSessions(ctx: {
  redis: RedisClient;
  key(...parts: string[]): string;
  config: { remoteSessionsPerHost: number };
}): RemoteHostSessions {
  return new RemoteHostSessions(ctx.redis, (...parts) => ctx.key(...parts), ctx.config.remoteSessionsPerHost);
}
