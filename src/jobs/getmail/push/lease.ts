/**
 * Which worker process watches an account: a lease per account in Redis (`SET NX PX`), renewed
 * by its holder every third of the lease period. A process that dies stops renewing, and once
 * the lease ends another process takes the account on its next round. Each operation touches
 * one key, so it runs in one slot of a Redis Cluster.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { RedisClient } from '../../../core/redis.js';

/** Takes the lease when free, or extends it when this holder has it: 1, else 0. */
const CLAIM = `
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not held then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;

/** Gives the lease up, only if this holder has it. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/** This process's name in the leases: host, pid and a random part (a pid can be reused). */
export function leaseHolderId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

export class PushLeases {
  constructor(
    private readonly redis: RedisClient,
    /** `stateKey(prefix, ...parts)`. */
    private readonly key: (...parts: string[]) => string,
    readonly holder: string,
    private readonly leaseMs: number,
  ) {}

  private keyOf(account: string): string {
    return this.key('push', 'lease', account);
  }

  /** True when this holder has the account's lease now (taken or extended). */
  async claim(account: string): Promise<boolean> {
    return (await this.redis.eval(CLAIM, 1, this.keyOf(account), this.holder, this.leaseMs)) === 1;
  }

  async release(account: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.keyOf(account), this.holder);
  }

  /** Who holds each account's lease (undefined: nobody). */
  static async holders(
    redis: RedisClient,
    key: (...parts: string[]) => string,
    accounts: readonly string[],
  ): Promise<(string | undefined)[]> {
    if (accounts.length === 0) return [];
    // One GET per key (not MGET): keys of several accounts need not share a slot.
    const got = await Promise.all(accounts.map((a) => redis.get(key('push', 'lease', a))));
    return got.map((v) => v ?? undefined);
  }
}
