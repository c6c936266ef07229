/**
 * Counters of every run for `/metrics`, kept in Redis so that any dashboard process sees the
 * runs of every worker process (and of `mailjobs run`): how long runs took, per job and outcome,
 * as a histogram, and the mail they moved (getmail's fetched and delivered, imapsync's copied).
 * Written by executeJob when a run ends; read at scrape time.
 *
 * Two hashes under `state:metrics:`, never expiring (a few fields per job): `durations`, with
 * `<job>|<outcome>|<bucket index>` (runs that fell in that bucket, not cumulative), `…|sum`
 * (seconds) and `…|count`; and `moved`, with `<job>|<action>|messages` and `…|bytes`. A third,
 * `restarts`, counts the Workers the watchdog replaced, per queue (see watchdog.ts).
 */
import type { RedisClient } from '../core/redis.js';
import type { MailMoved } from '../jobs/types.js';

/** Upper bounds (seconds): a queue sample takes milliseconds, a mailbox migration hours. */
export const DURATION_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14_400] as const;

export type RunOutcome = 'success' | 'failure';

/** Runs of one job with one outcome: cumulative counts per bucket, as Prometheus wants them. */
export interface DurationHistogram {
  job: string;
  outcome: RunOutcome;
  /** `cumulative[i]`: runs that took at most `DURATION_BUCKETS[i]` seconds. */
  cumulative: number[];
  sumSeconds: number;
  count: number;
}

/** Mail moved by one job's runs so far. */
export interface MovedTotal {
  job: string;
  action: MailMoved['action'];
  messages: number;
  bytes: number;
}

export interface RunMetrics {
  durations: DurationHistogram[];
  moved: MovedTotal[];
  /** Workers replaced by the watchdog so far, per queue. */
  restarts: { queue: string; count: number }[];
}

type KeyFn = (...parts: string[]) => string;

export class RunMetricsStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: KeyFn,
  ) {}

  /** A run ended after `durationMs`; `moved` is what it delivered or copied. */
  async ended(
    job: string,
    outcome: RunOutcome,
    durationMs: number,
    moved: readonly MailMoved[] = [],
  ): Promise<void> {
    const seconds = durationMs / 1000;
    const bucket = DURATION_BUCKETS.findIndex((le) => seconds <= le);
    const field = `${job}|${outcome}`;
    const m = this.redis.multi();
    const durations = this.key('metrics', 'durations');
    if (bucket >= 0) m.hincrby(durations, `${field}|${bucket}`, 1);
    m.hincrbyfloat(durations, `${field}|sum`, seconds).hincrby(durations, `${field}|count`, 1);
    for (const mv of moved) {
      if (mv.messages > 0)
        m.hincrby(this.key('metrics', 'moved'), `${job}|${mv.action}|messages`, mv.messages);
      if (mv.bytes) m.hincrby(this.key('metrics', 'moved'), `${job}|${mv.action}|bytes`, mv.bytes);
    }
    await m.exec();
  }

  /** The watchdog replaced the Worker of `queue`. */
  async workerRestarted(queue: string): Promise<void> {
    await this.redis.hincrby(this.key('metrics', 'restarts'), queue, 1);
  }

  async read(): Promise<RunMetrics> {
    const [d, mv, r] = await Promise.all([
      this.redis.hgetall(this.key('metrics', 'durations')),
      this.redis.hgetall(this.key('metrics', 'moved')),
      this.redis.hgetall(this.key('metrics', 'restarts')),
    ]);
    const restarts = Object.entries(r)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([queue, n]) => ({ queue, count: Number(n) }));
    return { durations: histograms(d), moved: movedTotals(mv), restarts };
  }
}

function histograms(fields: Record<string, string>): DurationHistogram[] {
  const byRun = new Map<string, DurationHistogram & { perBucket: number[] }>();
  for (const [field, value] of Object.entries(fields)) {
    const [job, outcome, part] = field.split('|') as [string, RunOutcome, string];
    const id = `${job}|${outcome}`;
    let h = byRun.get(id);
    if (!h) {
      h = { job, outcome, cumulative: [], perBucket: DURATION_BUCKETS.map(() => 0), sumSeconds: 0, count: 0 };
      byRun.set(id, h);
    }
    if (part === 'sum') h.sumSeconds = Number(value);
    else if (part === 'count') h.count = Number(value);
    else h.perBucket[Number(part)] = Number(value);
  }
  return [...byRun.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, { perBucket, ...h }]) => {
      let total = 0;
      return { ...h, cumulative: perBucket.map((n) => (total += n)) };
    });
}

function movedTotals(fields: Record<string, string>): MovedTotal[] {
  const byAction = new Map<string, MovedTotal>();
  for (const [field, value] of Object.entries(fields)) {
    const [job, action, unit] = field.split('|') as [string, MailMoved['action'], 'messages' | 'bytes'];
    const id = `${job}|${action}`;
    const t = byAction.get(id) ?? { job, action, messages: 0, bytes: 0 };
    t[unit] = Number(value);
    byAction.set(id, t);
  }
  return [...byAction.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, t]) => t);
}
