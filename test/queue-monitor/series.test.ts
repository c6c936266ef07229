/**
 * The queue time series in a real Redis: full resolution for the recent window, downsampled
 * buckets after it, both bounded and expiring, read back in order for the chart.
 */
import { describe, expect, it } from 'vitest';
import { stateKey } from '../../src/core/redis.js';
import { emptyQueues, type QueueSample } from '../../src/jobs/queue-monitor/sample.js';
import { QueueSeries } from '../../src/jobs/queue-monitor/series.js';
import { usePrivateRedis } from '../helpers/private-redis.js';
import { freshPrefix } from '../helpers/runtime.js';

const srv = usePrivateRedis();

const SECOND = 1000;
const MINUTE = 60 * SECOND;

function sample(t: number, deferred: number): QueueSample {
  const queues = emptyQueues();
  queues.deferred = { count: deferred, bytes: deferred * 2048 };
  return { t, queues };
}

describe('queue time series', () => {
  it('keeps the last minutes in full, older minutes as bucket averages and maxima, all bounded', async () => {
    const prefix = freshPrefix();
    const key = (...p: string[]) => stateKey(prefix, ...p);
    // A scaled-down retention: 2 min in full, 1-min buckets for 10 min.
    const series = new QueueSeries(srv.redis, key, {
      fullResolutionMs: 2 * MINUTE,
      bucketMs: MINUTE,
      historyMs: 10 * MINUTE,
    });
    // 15 minutes of samples every 10 s; the queue holds (minute index) messages, and one spike.
    const start = Math.floor(Date.now() / MINUTE) * MINUTE - 15 * MINUTE;
    for (let t = start; t < start + 15 * MINUTE; t += 10 * SECOND) {
      const minute = Math.floor((t - start) / MINUTE);
      await series.record(sample(t, t === start + 10 * MINUTE + 30 * SECOND ? 100 : minute));
    }
    const last = start + 15 * MINUTE - 10 * SECOND;

    const full = await srv.redis.zcard(key('queue-monitor', 'samples'));
    expect(full).toBe(13); // 2 minutes at 10 s, both ends included
    const buckets = await srv.redis.zrange(key('queue-monitor', 'history'), 0, -1, 'WITHSCORES');
    const bucketStarts = buckets.filter((_, i) => i % 2 === 1).map(Number);
    // Buckets older than 10 minutes are gone; the current minute's bucket is still open.
    expect(bucketStarts).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13].map((m) => start + m * MINUTE));

    const points = await series.read();
    const times = points.map((p) => p.t);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const downsampled = points.filter((p) => p.resolution === 'downsampled');
    const recent = points.filter((p) => p.resolution === 'full');
    expect(recent).toHaveLength(13);
    expect(recent.at(-1)).toMatchObject({
      t: last,
      queues: { deferred: { count: 14 } },
      total: { count: 14 },
    });
    // Minute 10 had five samples of 10 and one of 100: average 25, and the maximum is kept.
    const spike = downsampled.find((p) => p.t === start + 10 * MINUTE);
    expect(spike?.queues.deferred).toEqual({
      count: 25,
      bytes: 25 * 2048,
      countMax: 100,
      bytesMax: 100 * 2048,
    });
    expect(downsampled.find((p) => p.t === start + 7 * MINUTE)?.queues.deferred).toMatchObject({
      count: 7,
      countMax: 7,
    });
    // Downsampled points stop where full resolution begins: no minute is shown twice.
    expect(downsampled.at(-1)!.t + MINUTE).toBeLessThanOrEqual(recent[0]!.t);

    // Both keys expire on their own if sampling stops.
    expect(await srv.redis.pttl(key('queue-monitor', 'samples'))).toBeGreaterThan(0);
    expect(await srv.redis.pttl(key('queue-monitor', 'history'))).toBeGreaterThan(9 * MINUTE);
  });

  it('reads a time range, and the latest sample', async () => {
    const prefix = freshPrefix();
    const series = new QueueSeries(srv.redis, (...p) => stateKey(prefix, ...p), {
      fullResolutionMs: 60 * MINUTE,
      bucketMs: 5 * MINUTE,
      historyMs: 7 * 24 * 60 * MINUTE,
    });
    expect(await series.latest()).toBeUndefined();
    const now = Date.now();
    for (let i = 0; i < 6; i++) await series.record(sample(now - (5 - i) * 10 * SECOND, i));
    expect((await series.latest())?.queues.deferred.count).toBe(5);
    const range = await series.read({ sinceMs: now - 35 * SECOND, untilMs: now - 5 * SECOND });
    expect(range.map((p) => p.queues.deferred.count)).toEqual([2, 3, 4]);
  });
});
