/**
 * What `status` and the dashboard show about a job that runs on a schedule: last run, last
 * success, last error, failures in a row, the last result. One Redis hash, written at the end
 * of every run (success or failure), expiring `retentionSeconds` after the last write.
 */
import type { Redis } from 'ioredis';

export interface RunStats {
  lastRunAt?: number;
  lastSuccessAt?: number;
  lastError?: string;
  lastErrorAt?: number;
  consecutiveFailures: number;
  lastResult?: Record<string, unknown>;
}

export class RunStatsStore {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly retentionSeconds = 90 * 86_400,
  ) {}

  async read(): Promise<RunStats> {
    const s = await this.redis.hgetall(this.key);
    const out: RunStats = { consecutiveFailures: Number(s.consecutiveFailures ?? 0) };
    if (s.lastRunAt) out.lastRunAt = Number(s.lastRunAt);
    if (s.lastSuccessAt) out.lastSuccessAt = Number(s.lastSuccessAt);
    if (s.lastError) out.lastError = s.lastError;
    if (s.lastErrorAt) out.lastErrorAt = Number(s.lastErrorAt);
    if (s.lastResult) out.lastResult = JSON.parse(s.lastResult) as Record<string, unknown>;
    return out;
  }

  /** A run succeeded: failures in a row reset; the last error stays visible with its time. */
  async success(result: Record<string, unknown>, now = Date.now()): Promise<void> {
    await this.redis
      .multi()
      .hset(this.key, {
        lastRunAt: now,
        lastSuccessAt: now,
        consecutiveFailures: 0,
        lastResult: JSON.stringify(result),
      })
      .expire(this.key, this.retentionSeconds)
      .exec();
  }

  /** A run failed: `error` must already be safe to show (no secrets). */
  async failure(error: string, now = Date.now()): Promise<void> {
    await this.redis
      .multi()
      .hset(this.key, { lastRunAt: now, lastError: error.slice(0, 2000), lastErrorAt: now })
      .hincrby(this.key, 'consecutiveFailures', 1)
      .expire(this.key, this.retentionSeconds)
      .exec();
  }
}
