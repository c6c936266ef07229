/**
 * Dashboard sessions in Redis. The browser holds a random id (cookie); Redis holds only its
 * SHA-256, so a Redis dump or `MONITOR` does not hand out live sessions. Each session has its
 * own CSRF token and ends `sessionHours` after login, at logout, or when its user's password or
 * role changes (or the user is removed) in the config.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RedisClient } from '../core/redis.js';

export interface Session {
  user: string;
  csrf: string;
  createdAt: number;
  /** `grantOf` the user at login: a session whose user's password or role changed since ends. */
  grant: string;
}

/** A digest of what a login proved (name, role, password hash), kept in the session. */
export function grantOf(user: { name: string; role: string; passwordHash: string }): string {
  return createHash('sha256')
    .update(JSON.stringify([user.name, user.role, user.passwordHash]))
    .digest('base64url');
}

/** 32 random bytes, base64url: session ids and CSRF tokens. */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time comparison of two tokens (false for a missing or differently sized one). */
export function tokensEqual(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const digest = (id: string) => createHash('sha256').update(id).digest('hex');

export class SessionStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: (...parts: string[]) => string,
  ) {}

  private keyOf(id: string): string {
    return this.key('dashboard', 'session', digest(id));
  }

  /** Starts a session; returns its id (for the cookie only) and the session. */
  async create(
    user: string,
    grant: string,
    lifetimeSeconds: number,
  ): Promise<{ id: string; session: Session }> {
    const id = randomToken();
    const session: Session = { user, grant, csrf: randomToken(), createdAt: Date.now() };
    await this.redis.set(this.keyOf(id), JSON.stringify(session), 'EX', Math.ceil(lifetimeSeconds));
    return { id, session };
  }

  async get(id: string | undefined): Promise<Session | undefined> {
    if (!id || id.length > 100) return undefined;
    const raw = await this.redis.get(this.keyOf(id));
    return raw ? (JSON.parse(raw) as Session) : undefined;
  }

  async destroy(id: string | undefined): Promise<void> {
    if (id && id.length <= 100) await this.redis.del(this.keyOf(id));
  }
}
