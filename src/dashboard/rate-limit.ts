/**
 * Login rate limiting: failed logins are counted per client address and per user name in
 * Redis (so every dashboard process shares them), each count expiring `windowMinutes` after
 * its first failure. Past a limit, logins from that address or for that name are refused with
 * the seconds to wait, before any password is checked.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface LoginLimits {
  perAddress: number;
  perUser: number;
  windowMinutes: number;
}

/** The few Redis commands the limiter uses (a fake in unit tests). */
export type CounterStore = Pick<Redis, 'get' | 'ttl' | 'del'> & {
  /** INCR, and EXPIRE when the key is new; returns the count. */
  incrWithin(key: string, seconds: number): Promise<number>;
};

export function redisCounters(redis: Redis): CounterStore {
  return {
    get: (k: string) => redis.get(k),
    ttl: (k: string) => redis.ttl(k),
    del: (...k: string[]) => redis.del(...k),
    async incrWithin(key, seconds) {
      const [[, count]] = (await redis.multi().incr(key).expire(key, seconds, 'NX').exec()) as [
        [unknown, number],
      ];
      return count;
    },
  } as CounterStore;
}

/** Hashed, so odd user names make plain keys and Redis holds no list of tried names. */
const digest = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 32);

export class LoginRateLimiter {
  constructor(
    private readonly store: CounterStore,
    private readonly key: (...parts: string[]) => string,
    private readonly limits: () => LoginLimits,
  ) {}

  private keys(address: string, user: string) {
    return {
      address: this.key('dashboard', 'login-failures', 'addr', digest(address)),
      user: this.key('dashboard', 'login-failures', 'user', digest(user.toLowerCase())),
    };
  }

  /** Seconds to wait before this address may try this user again; 0 when it may now. */
  async retryAfter(address: string, user: string): Promise<number> {
    const k = this.keys(address, user);
    const { perAddress, perUser } = this.limits();
    const [a, u] = await Promise.all([this.store.get(k.address), this.store.get(k.user)]);
    const waits: number[] = [];
    if (Number(a ?? 0) >= perAddress) waits.push(await this.store.ttl(k.address));
    if (Number(u ?? 0) >= perUser) waits.push(await this.store.ttl(k.user));
    return waits.length ? Math.max(1, ...waits) : 0;
  }

  async recordFailure(address: string, user: string): Promise<void> {
    const k = this.keys(address, user);
    const seconds = this.limits().windowMinutes * 60;
    await Promise.all([this.store.incrWithin(k.address, seconds), this.store.incrWithin(k.user, seconds)]);
  }

  /** A successful login clears that name's failures (not the address's). */
  async recordSuccess(user: string): Promise<void> {
    await this.store.del(this.keys('', user).user);
  }
}
