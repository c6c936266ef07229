/**
 * Login rate limiting, in Redis (so every dashboard process shares it), decided by one Lua
 * script per attempt BEFORE the password is checked: parallel attempts cannot all slip past
 * a limit that is only counted after their checks.
 *
 * - Per client address, a hard limit: `perAddress` failed logins per `windowMinutes`.
 * - Per user name, a delay that grows instead of a lock-out (anyone could lock the admin out
 *   for the whole window otherwise): each attempt holds the name for 1 s, then 2, 4 … up to
 *   `maxUserDelaySeconds` after consecutive failures; attempts in that time answer 429 with a
 *   Retry-After of those few seconds, without checking anything.
 *
 * An attempt is counted as a failure up front; a successful login takes it back.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from '../core/redis.js';

export interface LoginLimits {
  perAddress: number;
  windowMinutes: number;
  maxUserDelaySeconds: number;
}

/** Refused: which limit, and the seconds to wait. */
export interface LoginRefusal {
  scope: 'address' | 'user';
  retryAfter: number;
}

// KEYS: address failures, user failures, user hold. ARGV: perAddress, window (s), max delay (ms).
const ATTEMPT = `
local a = tonumber(redis.call('GET', KEYS[1]) or '0')
if a >= tonumber(ARGV[1]) then return {'address', redis.call('PTTL', KEYS[1])} end
local hold = redis.call('PTTL', KEYS[3])
if hold > 0 then return {'user', hold} end
if redis.call('INCR', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
local f = redis.call('INCR', KEYS[2])
if f == 1 then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
redis.call('SET', KEYS[3], '1', 'PX', math.min(1000 * 2 ^ (f - 1), tonumber(ARGV[3])))
return {'ok', 0}`;

// KEYS: as above. The address count is taken back only while it lasts (DECR would revive it).
const SUCCEEDED = `
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
redis.call('DEL', KEYS[2], KEYS[3])
return 0`;

/** Hashed, so odd user names make plain keys and Redis holds no list of tried names. */
const digest = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 32);

export class LoginRateLimiter {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: (...parts: string[]) => string,
    private readonly limits: () => LoginLimits,
  ) {}

  private keys(address: string, user: string): [string, string, string] {
    const name = digest(user.toLowerCase());
    return [
      this.key('dashboard', 'login-failures', 'addr', digest(address)),
      this.key('dashboard', 'login-failures', 'user', name),
      this.key('dashboard', 'login-failures', 'hold', name),
    ];
  }

  /** Counts this attempt as a failure and returns undefined, or refuses it (nothing counted). */
  async attempt(address: string, user: string): Promise<LoginRefusal | undefined> {
    const { perAddress, windowMinutes, maxUserDelaySeconds } = this.limits();
    const [scope, ms] = (await this.redis.eval(
      ATTEMPT,
      3,
      ...this.keys(address, user),
      perAddress,
      windowMinutes * 60,
      maxUserDelaySeconds * 1000,
    )) as [string, number];
    if (scope === 'ok') return undefined;
    return { scope: scope as LoginRefusal['scope'], retryAfter: Math.max(1, Math.ceil(ms / 1000)) };
  }

  /** The password was right: the attempt was no failure, and the name starts afresh. */
  async succeeded(address: string, user: string): Promise<void> {
    await this.redis.eval(SUCCEEDED, 3, ...this.keys(address, user));
  }
}
