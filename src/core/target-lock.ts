/**
 * One running job per target (account, sync task, user). BullMQ deduplication covers
 * jobs enqueued on demand, but not the jobs that job schedulers create; this lock covers both.
 * The lock is renewed while its holder lives and expires on its own when the holder dies
 * (kill -9). It records who holds it (job id, host, pid), so that a process on the holder's
 * host can see at once that the holder is gone and take the lock over instead of waiting for
 * it to expire, and so that a busy answer names the holder.
 */
import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import type { RedisClient } from './redis.js';

/** The held value and its remaining time, or false when the key is free. */
const READ = `
local cur = redis.call('GET', KEYS[1])
if cur == false then return false end
return {cur, redis.call('PTTL', KEYS[1])}`;
// Free, or held by the same job id (a stalled job retried by BullMQ): take it (1). Else READ's answer.
// A value written before holders were recorded is the bare job id.
const ACQUIRE = `
local cur = redis.call('GET', KEYS[1])
if cur ~= false and cur ~= ARGV[3] then
  local ok, held = pcall(cjson.decode, cur)
  if not (ok and type(held) == 'table' and held.jobId == ARGV[3]) then
    return {cur, redis.call('PTTL', KEYS[1])}
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;
// Compare-and-set on the exact value read: a holder that changed meanwhile is left alone.
const SWAP = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** Who holds a target's lock. */
export interface LockHolder {
  jobId: string;
  /** `os.hostname()` of the holder; absent from a lock written by a version before this one. */
  host?: string;
  /** The holder's PID namespace (Linux): containers sharing a host name number processes apart. */
  pidns?: string;
  pid?: number;
  /** When the lock expires unless its holder renews it (ms since the epoch). */
  expiresAt?: number;
}

/** The machine and the liveness check a dead holder is judged by (injectable for tests). */
export interface Here {
  host: string;
  pidns?: string;
  pid: number;
  /** Whether process `pid` of this host exists. */
  exists(pid: number): boolean;
}

/** Signal 0 checks a process exists without touching it; EPERM: it exists, under another user. */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** `pid:[4026531836]` on Linux; undefined where there is no such link. */
function pidNamespace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

function here(): Here {
  const pidns = pidNamespace();
  return { host: hostname(), ...(pidns ? { pidns } : {}), pid: process.pid, exists: processExists };
}

/** The stored value of a lock held by `jobId` in this process (`at`: another process, for tests). */
export function lockValue(jobId: string, at: Partial<Omit<Here, 'exists'>> = {}): string {
  const { host, pidns, pid } = { ...here(), ...at };
  return JSON.stringify({ jobId, host, pidns, pid });
}

/** Reads a stored value: this version's JSON, or the bare job id an older version wrote. */
export function parseLockValue(raw: string, ttlMs: number, now = Date.now()): LockHolder {
  const expiresAt = ttlMs > 0 ? { expiresAt: now + ttlMs } : {};
  if (raw.startsWith('{')) {
    try {
      const v = JSON.parse(raw) as Record<string, unknown>;
      if (typeof v.jobId === 'string')
        return {
          jobId: v.jobId,
          ...(typeof v.host === 'string' ? { host: v.host } : {}),
          ...(typeof v.pidns === 'string' ? { pidns: v.pidns } : {}),
          ...(Number.isInteger(v.pid) && (v.pid as number) > 0 ? { pid: v.pid as number } : {}),
          ...expiresAt,
        };
    } catch {
      // not ours: a job id that happens to start with a brace
    }
  }
  return { jobId: raw, ...expiresAt };
}

/**
 * True when `holder` ran on this host (same host name and PID namespace) and its process is
 * gone. A holder elsewhere, or one of an older version (no host, no pid), is never judged dead:
 * its lock expires on its own.
 */
export function holderIsDead(holder: LockHolder, at: Here = here()): boolean {
  return (
    holder.host === at.host &&
    holder.pidns === at.pidns &&
    holder.pid !== undefined &&
    holder.pid !== at.pid &&
    !at.exists(holder.pid)
  );
}

/** "job X on HOST (pid N), lock expires at ISO (in S s)": for busy answers and logs. */
export function describeHolder(holder: LockHolder, now = Date.now()): string {
  const where = holder.host ? ` on ${holder.host}${holder.pid ? ` (pid ${holder.pid})` : ''}` : '';
  const until = holder.expiresAt
    ? `, lock expires at ${new Date(holder.expiresAt).toISOString()} (in ${Math.max(0, Math.ceil((holder.expiresAt - now) / 1000))} s)`
    : '';
  return `job ${holder.jobId}${where}${until}`;
}

export interface HeldLock {
  /** The dead holder whose lock this one took over, if any (worth a log line). */
  tookOverFrom?: LockHolder;
  release(): Promise<void>;
}

/** What READ (and ACQUIRE, when the lock is held) answer: the held value and its remaining ms. */
type Held = [value: string, ttlMs: number];

/**
 * Tries to take `key` for job `jobId` of this process: free, or held by a dead process of this
 * host (taken over at once). Returns the held lock, or the live holder.
 */
export async function acquireTargetLock(
  redis: RedisClient,
  key: string,
  jobId: string,
  ttlMs: number,
  at: Here = here(),
): Promise<HeldLock | { heldBy: LockHolder }> {
  const value = lockValue(jobId, at);
  // A few rounds: the value may change between the read and the compare-and-set.
  for (let round = 1; ; round++) {
    const answer = (await redis.eval(ACQUIRE, 1, key, value, ttlMs, jobId)) as 1 | Held;
    if (answer === 1) return hold(redis, key, value, ttlMs);
    const holder = parseLockValue(...answer);
    if (round === 3 || !holderIsDead(holder, at)) return { heldBy: holder };
    if ((await redis.eval(SWAP, 1, key, answer[0], value, ttlMs)) === 1)
      return hold(redis, key, value, ttlMs, holder);
  }
}

function hold(
  redis: RedisClient,
  key: string,
  value: string,
  ttlMs: number,
  tookOverFrom?: LockHolder,
): HeldLock {
  const timer = setInterval(
    () => {
      redis.eval(RENEW, 1, key, value, ttlMs).catch(() => undefined); // next tick retries
    },
    Math.max(1000, Math.floor(ttlMs / 3)),
  );
  timer.unref();
  return {
    ...(tookOverFrom ? { tookOverFrom } : {}),
    async release() {
      clearInterval(timer);
      await redis.eval(RELEASE, 1, key, value);
    },
  };
}

/**
 * The live holder of `key`, if any. The lock of a dead process of this host is deleted
 * (compare-and-delete on the value read), so whoever asks next, such as a job queued from the
 * dashboard, can take the target at once.
 */
export async function targetLockHolder(
  redis: RedisClient,
  key: string,
  at: Here = here(),
): Promise<LockHolder | null> {
  for (let round = 1; ; round++) {
    const answer = (await redis.eval(READ, 1, key)) as Held | null;
    if (!answer) return null;
    const holder = parseLockValue(...answer);
    if (round === 3 || !holderIsDead(holder, at)) return holder;
    await redis.eval(RELEASE, 1, key, answer[0]);
  }
}
