/**
 * The queue's time series in Redis, bounded in time and in size:
 *  - `samples` (sorted set, score = time): every sample, kept `fullResolutionMinutes`;
 *  - `history` (sorted set, score = bucket start): one point per `downsampleMinutes` bucket
 *    (average and maximum of its samples), kept `historyDays`.
 * A bucket is written once, when the first sample of a later bucket arrives; its samples are
 * still in `samples` then, because trimming runs after. Both keys also expire on their own, so
 * a monitor that is switched off leaves nothing behind. The dashboard reads with {@link read}.
 */
import type { RedisClient } from '../../core/redis.js';
import { POSTFIX_QUEUES, type PostfixQueueName } from '../../mail/postfix.js';
import { emptyQueues, totalOf, type QueueCounts, type QueueSample } from './sample.js';

/** Average and maximum over a bucket's samples. */
export interface BucketCounts extends QueueCounts {
  countMax: number;
  bytesMax: number;
}

/** One downsampled point: `t` is the bucket's start. */
export interface HistoryPoint {
  t: number;
  samples: number;
  queues: Record<PostfixQueueName, BucketCounts>;
}

/** A point as the chart gets it; `resolution` says which store it came from. */
export interface SeriesPoint {
  t: number;
  resolution: 'full' | 'downsampled';
  queues: Record<PostfixQueueName, QueueCounts & Partial<BucketCounts>>;
  total: QueueCounts;
}

export interface SeriesRetention {
  fullResolutionMs: number;
  bucketMs: number;
  historyMs: number;
}

/** Averages (rounded) and maxima of `samples` per bucket of `bucketMs`, oldest first. */
export function downsample(samples: readonly QueueSample[], bucketMs: number): HistoryPoint[] {
  const buckets = new Map<number, QueueSample[]>();
  for (const s of samples) {
    const start = Math.floor(s.t / bucketMs) * bucketMs;
    const list = buckets.get(start) ?? [];
    list.push(s);
    buckets.set(start, list);
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([t, list]) => {
      const queues = {} as Record<PostfixQueueName, BucketCounts>;
      for (const q of POSTFIX_QUEUES) {
        const counts = list.map((s) => s.queues[q]?.count ?? 0);
        const bytes = list.map((s) => s.queues[q]?.bytes ?? 0);
        queues[q] = {
          count: Math.round(counts.reduce((a, b) => a + b, 0) / list.length),
          bytes: Math.round(bytes.reduce((a, b) => a + b, 0) / list.length),
          countMax: Math.max(...counts),
          bytesMax: Math.max(...bytes),
        };
      }
      return { t, samples: list.length, queues };
    });
}

function parse<T>(members: string[]): T[] {
  return members.map((m) => JSON.parse(m) as T);
}

export class QueueSeries {
  private readonly samplesKey: string;
  private readonly historyKey: string;

  constructor(
    private readonly redis: RedisClient,
    key: (...parts: string[]) => string,
    private readonly retention: SeriesRetention,
  ) {
    this.samplesKey = key('queue-monitor', 'samples');
    this.historyKey = key('queue-monitor', 'history');
  }

  /** Appends a sample, writes the buckets it closes, trims both stores. */
  async record(sample: QueueSample): Promise<void> {
    const { fullResolutionMs, bucketMs, historyMs } = this.retention;
    await this.redis.zadd(this.samplesKey, sample.t, JSON.stringify(sample));

    const last = await this.redis.zrange(this.historyKey, -1, -1, 'WITHSCORES');
    const from = last[1] === undefined ? '-inf' : String(Number(last[1]) + bucketMs);
    const current = Math.floor(sample.t / bucketMs) * bucketMs;
    const closed = parse<QueueSample>(await this.redis.zrangebyscore(this.samplesKey, from, `(${current}`));
    const m = this.redis.multi();
    for (const point of downsample(closed, bucketMs)) {
      m.zremrangebyscore(this.historyKey, point.t, point.t); // idempotent if written before
      m.zadd(this.historyKey, point.t, JSON.stringify(point));
    }
    // Bounded by time, and by size in case the clock jumps or samples come faster than 1/s.
    m.zremrangebyscore(this.samplesKey, '-inf', `(${sample.t - fullResolutionMs}`);
    m.zremrangebyrank(this.samplesKey, 0, -Math.ceil(fullResolutionMs / 1000) - 1);
    m.zremrangebyscore(this.historyKey, '-inf', `(${sample.t - historyMs}`);
    m.zremrangebyrank(this.historyKey, 0, -Math.ceil(historyMs / bucketMs) - 2);
    m.pexpire(this.samplesKey, fullResolutionMs);
    m.pexpire(this.historyKey, historyMs);
    await m.exec();
  }

  /** The newest sample, if any. */
  async latest(): Promise<QueueSample | undefined> {
    return parse<QueueSample>(await this.redis.zrange(this.samplesKey, -1, -1))[0];
  }

  /**
   * Points between `sinceMs` and `untilMs` (default: everything kept), oldest first:
   * downsampled buckets up to where full-resolution samples begin, then every sample.
   */
  async read(range: { sinceMs?: number; untilMs?: number } = {}): Promise<SeriesPoint[]> {
    const since = range.sinceMs ?? '-inf';
    const until = range.untilMs ?? '+inf';
    const samples = parse<QueueSample>(await this.redis.zrangebyscore(this.samplesKey, since, until));
    const fullFrom = samples[0]?.t ?? Infinity;
    const history = parse<HistoryPoint>(await this.redis.zrangebyscore(this.historyKey, since, until)).filter(
      (p) => p.t + this.retention.bucketMs <= fullFrom,
    );
    return [
      ...history.map((p) => ({
        t: p.t,
        resolution: 'downsampled' as const,
        queues: p.queues,
        total: totalOf(p.queues),
      })),
      ...samples.map((s) => {
        const queues = { ...emptyQueues(), ...s.queues };
        return { t: s.t, resolution: 'full' as const, queues, total: totalOf(queues) };
      }),
    ];
  }
}
