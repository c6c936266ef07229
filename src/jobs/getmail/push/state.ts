/**
 * What the push watcher knows of each account, in Redis for the Connectors page and
 * `mailjobs status`: the state of its watch (written by the process holding the lease), and
 * whether the server announced IDLE (learned on the first connection, kept so that a server
 * without it is not asked again on every round).
 */
import type { RedisClient } from '../../../core/redis.js';
import type { ConnectorConfig } from '../../../config/schema.js';

export type PushPhase = 'connecting' | 'watching' | 'error' | 'no-idle' | 'waiting-slot';

export interface PushState {
  phase: PushPhase;
  /** The lease holder that wrote this (see lease.ts). */
  holder: string;
  /** When this phase began (watching: since when). */
  since: number;
  /** The last new-mail event. */
  lastEventAt?: number;
  /** Why not watching (error, no-idle, waiting-slot). */
  reason?: string;
  /** The folder in IDLE. */
  folder?: string;
  /** The connector's other folders watched with NOTIFY (RFC 5465) on the same connection. */
  notified?: string[];
  /** Its other folders left to the interval (the server has no NOTIFY). */
  polled?: string[];
}

/** The server's answer to "do you have IDLE", and when it was given. */
export interface IdleKnowledge {
  idle: boolean;
  checkedAt: number;
}

export class PushStateStore {
  constructor(
    private readonly redis: RedisClient,
    /** `stateKey(prefix, ...parts)`. */
    private readonly key: (...parts: string[]) => string,
  ) {}

  async write(account: string, state: PushState): Promise<void> {
    await this.redis.hset(this.key('push', 'state'), account, JSON.stringify(state));
  }

  async readAll(): Promise<Map<string, PushState>> {
    const all = await this.redis.hgetall(this.key('push', 'state'));
    return new Map(Object.entries(all).map(([k, v]) => [k, JSON.parse(v) as PushState]));
  }

  async setIdle(account: string, idle: boolean): Promise<void> {
    const value: IdleKnowledge = { idle, checkedAt: Date.now() };
    await this.redis.hset(this.key('push', 'idle'), account, JSON.stringify(value));
  }

  async idleOf(account: string): Promise<IdleKnowledge | undefined> {
    const v = await this.redis.hget(this.key('push', 'idle'), account);
    return v ? (JSON.parse(v) as IdleKnowledge) : undefined;
  }

  /** Forgets accounts no longer in the config. */
  async prune(keep: ReadonlySet<string>): Promise<void> {
    for (const name of ['state', 'idle']) {
      const key = this.key('push', name);
      const stale = (await this.redis.hkeys(key)).filter((a) => !keep.has(a));
      if (stale.length > 0) await this.redis.hdel(key, ...stale);
    }
  }
}

/** Why an account is not watched, from the config alone; undefined when it should be. */
export function pushOffReason(c: ConnectorConfig): string | undefined {
  if (c.protocol !== 'imap') return 'POP3 has no IDLE';
  if (!c.enabled) return 'connector disabled';
  if (c.push === false) return 'push: false in the config';
  return undefined;
}

/** How the Connectors page and `mailjobs status` say an account's push state. */
export interface PushView {
  /** watching | off | no-idle | error | waiting-for-lease | waiting-slot | connecting */
  state: string;
  text: string;
  since?: number;
  lastEventAt?: number;
}

export function pushView(
  c: ConnectorConfig,
  state: PushState | undefined,
  leaseHolder: string | undefined,
): PushView {
  const off = pushOffReason(c);
  if (off) return { state: 'off', text: off };
  if (!leaseHolder || !state || state.holder !== leaseHolder)
    return { state: 'waiting-for-lease', text: 'waiting for a worker to take its lease' };
  const times = { since: state.since, ...(state.lastEventAt ? { lastEventAt: state.lastEventAt } : {}) };
  switch (state.phase) {
    case 'watching': {
      const notified = state.notified?.length ? `, NOTIFY for ${state.notified.join(', ')}` : '';
      const polled = state.polled?.length ? `; ${state.polled.join(', ')} at the interval (no NOTIFY)` : '';
      return { state: 'watching', text: `IDLE on ${state.folder ?? 'INBOX'}${notified}${polled}`, ...times };
    }
    case 'no-idle':
      return { state: 'no-idle', text: state.reason ?? 'the server does not announce IDLE', ...times };
    case 'waiting-slot':
      return { state: 'waiting-slot', text: state.reason ?? 'waiting for a session slot', ...times };
    case 'connecting':
      return { state: 'connecting', text: 'connecting', ...times };
    default:
      return { state: 'error', text: state.reason ?? 'error', ...times };
  }
}
