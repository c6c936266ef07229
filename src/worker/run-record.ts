/**
 * The one record of how each target's runs went, per (job, target): last start, last success,
 * last failure and its reason, failures in a row, the last run's counts and duration. The
 * worker writes it around every run (executeJob); `status`, the pages, metrics and alerts read
 * it. Jobs keep no copies of their own.
 *
 * One Redis hash per (job, target), `state:run:<job>:<target>`, and one set per job naming its
 * targets, `state:runs:<job>`. Both expire `RUN_RECORD_RETENTION_S` after the last write, so a
 * removed connector's record fades.
 */
import type { RedisClient } from '../core/redis.js';

export const RUN_RECORD_RETENTION_S = 90 * 86_400;

export interface RunRecord {
  job: string;
  target: string;
  lastStartAt?: number;
  lastSuccessAt?: number;
  lastFailureAt?: number;
  /** The last failure's reason, safe to show (no secrets), at most 2,000 characters. */
  lastError?: string;
  /**
   * The last failure's machine word: the error's typed outcome (imapsync's `auth_failed_source`)
   * or its `code` (`ECONNECTION`, `EAUTH`).
   */
  lastErrorCode?: string;
  /** True when a retry cannot fix the last failure (a refused login, a missing user). */
  lastErrorPermanent?: boolean;
  /** Runs that failed since the last success (0 after a success). */
  consecutiveFailures: number;
  /** When the current streak of failures began (absent while the last finished run succeeded). */
  failingSince?: number;
  /** When the last run was stopped (cancelled by an admin, or the worker shutting down), and why. */
  lastCancelledAt?: number;
  lastCancelReason?: string;
  /** The numeric, boolean and short string fields of the last successful run's result. */
  lastCounts?: Record<string, unknown>;
  lastDurationMs?: number;
  /**
   * The run did not go on and waits, without counting as a failure: for a slot under a cap, or
   * for its remote host's throttling pause to end; until when (about), and why. Cleared when a
   * run starts again.
   */
  waitingUntil?: number;
  waitingReason?: string;
  /** How the last finished run ended; a cancelled run neither fails nor succeeds. */
  lastOutcome?: 'success' | 'failure' | 'cancelled';
}

/** What a failure says about itself, beyond its reason. */
export interface FailureFacts {
  code?: string;
  permanent?: boolean;
}

type KeyFn = (...parts: string[]) => string;

export class RunRecordStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: KeyFn,
  ) {}

  /** A run began. */
  async started(job: string, target: string, now = Date.now()): Promise<void> {
    await this.touch(job, target, (m, k) =>
      m.hset(k, { lastStartAt: now }).hdel(k, 'waitingUntil', 'waitingReason'),
    );
  }

  /** A run succeeded: failures in a row reset; the last error stays visible with its time. */
  async succeeded(
    job: string,
    target: string,
    counts: Record<string, unknown>,
    durationMs: number,
    now = Date.now(),
  ): Promise<void> {
    await this.touch(job, target, (m, k) =>
      m
        .hset(k, {
          lastSuccessAt: now,
          lastOutcome: 'success',
          consecutiveFailures: 0,
          lastCounts: JSON.stringify(counts),
          lastDurationMs: durationMs,
        })
        .hdel(k, 'failingSince', 'waitingUntil', 'waitingReason'),
    );
  }

  /** A run failed; `reason` must already be safe to show. */
  async failed(
    job: string,
    target: string,
    reason: string,
    durationMs: number,
    now = Date.now(),
    facts: FailureFacts = {},
  ): Promise<void> {
    await this.touch(job, target, (m, k) => {
      m.hset(k, {
        lastFailureAt: now,
        lastOutcome: 'failure',
        lastError: reason.slice(0, 2000),
        lastErrorPermanent: facts.permanent ? 1 : 0,
        lastDurationMs: durationMs,
      });
      m.hdel(k, 'waitingUntil', 'waitingReason');
      if (facts.code) m.hset(k, 'lastErrorCode', facts.code);
      else m.hdel(k, 'lastErrorCode');
      return m.hsetnx(k, 'failingSince', now).hincrby(k, 'consecutiveFailures', 1);
    });
  }

  /** A run was put back to wait (a slot, a throttled host) until about `until`: no failure. */
  async waiting(job: string, target: string, reason: string, until: number): Promise<void> {
    await this.touch(job, target, (m, k) =>
      m.hset(k, { waitingUntil: until, waitingReason: reason.slice(0, 500) }),
    );
  }

  /** A run was stopped before its end: no failure, no success; `reason` says who stopped it. */
  async cancelled(
    job: string,
    target: string,
    reason: string,
    durationMs: number,
    now = Date.now(),
  ): Promise<void> {
    await this.touch(job, target, (m, k) =>
      m.hset(k, {
        lastCancelledAt: now,
        lastOutcome: 'cancelled',
        lastCancelReason: reason.slice(0, 200),
        lastDurationMs: durationMs,
      }),
    );
  }

  async read(job: string, target: string): Promise<RunRecord | undefined> {
    const h = await this.redis.hgetall(this.recordKey(job, target));
    return Object.keys(h).length === 0 ? undefined : parse(job, target, h);
  }

  /** Every target's record of `job`, sorted by target. */
  async list(job: string): Promise<RunRecord[]> {
    const targets = (await this.redis.smembers(this.indexKey(job))).sort();
    if (targets.length === 0) return [];
    const m = this.redis.multi();
    for (const t of targets) m.hgetall(this.recordKey(job, t));
    const replies = (await m.exec()) ?? [];
    const out: RunRecord[] = [];
    targets.forEach((t, i) => {
      const h = replies[i]?.[1] as Record<string, string> | undefined;
      if (h && Object.keys(h).length > 0) out.push(parse(job, t, h));
    });
    return out;
  }

  /** Forgets a target (a connector or task removed from the config). */
  async forget(job: string, target: string): Promise<void> {
    await this.redis.multi().del(this.recordKey(job, target)).srem(this.indexKey(job), target).exec();
  }

  private recordKey(job: string, target: string): string {
    return this.key('run', job, target);
  }

  private indexKey(job: string): string {
    return this.key('runs', job);
  }

  private async touch(
    job: string,
    target: string,
    write: (m: ReturnType<RedisClient['multi']>, key: string) => unknown,
  ): Promise<void> {
    const k = this.recordKey(job, target);
    const m = this.redis.multi();
    write(m, k);
    await m
      .expire(k, RUN_RECORD_RETENTION_S)
      .sadd(this.indexKey(job), target)
      .expire(this.indexKey(job), RUN_RECORD_RETENTION_S)
      .exec();
  }
}

function parse(job: string, target: string, h: Record<string, string>): RunRecord {
  const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
  const r: RunRecord = { job, target, consecutiveFailures: Number(h.consecutiveFailures ?? 0) };
  const set = <K extends keyof RunRecord>(k: K, v: RunRecord[K] | undefined): void => {
    if (v !== undefined) r[k] = v;
  };
  set('lastStartAt', num(h.lastStartAt));
  set('lastSuccessAt', num(h.lastSuccessAt));
  set('lastFailureAt', num(h.lastFailureAt));
  set('lastError', h.lastError);
  set('lastErrorCode', h.lastErrorCode);
  if (h.lastErrorPermanent !== undefined) r.lastErrorPermanent = h.lastErrorPermanent === '1';
  set('failingSince', num(h.failingSince));
  set('lastCancelledAt', num(h.lastCancelledAt));
  set('lastCancelReason', h.lastCancelReason);
  set('lastDurationMs', num(h.lastDurationMs));
  set('lastOutcome', h.lastOutcome as RunRecord['lastOutcome']);
  set('waitingUntil', num(h.waitingUntil));
  set('waitingReason', h.waitingReason);
  if (h.lastCounts) set('lastCounts', JSON.parse(h.lastCounts) as Record<string, unknown>);
  return r;
}
