/**
 * One running job per target (account, sync task, user). BullMQ deduplication covers
 * jobs enqueued on demand, but not the jobs that job schedulers create; this lock covers both.
 * The lock expires on its own when the holder dies (kill -9), and is renewed while it lives.
 */
import type { Redis } from 'ioredis';

// Take over a lock we already hold (a stalled job retried under the same id), or a free one.
const ACQUIRE = `
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface HeldLock {
  release(): Promise<void>;
}

/** Tries to take `key` for `holder`; returns the held lock, or the current holder's id. */
export async function acquireTargetLock(
  redis: Redis,
  key: string,
  holder: string,
  ttlMs: number,
): Promise<HeldLock | { heldBy: string }> {
  const ok = (await redis.eval(ACQUIRE, 1, key, holder, ttlMs)) === 1;
  if (!ok) return { heldBy: (await redis.get(key)) ?? 'unknown' };
  const timer = setInterval(
    () => {
      redis.eval(RENEW, 1, key, holder, ttlMs).catch(() => undefined); // next tick retries
    },
    Math.max(1000, Math.floor(ttlMs / 3)),
  );
  timer.unref();
  return {
    async release() {
      clearInterval(timer);
      await redis.eval(RELEASE, 1, key, holder);
    },
  };
}

/** The id of the job holding `key`, if any. */
export async function targetLockHolder(redis: Redis, key: string): Promise<string | null> {
  return redis.get(key);
}
