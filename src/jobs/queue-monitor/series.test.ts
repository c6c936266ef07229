import { describe, expect, it } from 'vitest';
import { emptyQueues, type QueueSample } from './sample.js';
import { downsample } from './series.js';

function sample(t: number, deferred: number, bytes = deferred * 1000): QueueSample {
  const queues = emptyQueues();
  queues.deferred = { count: deferred, bytes };
  return { t, queues };
}

describe('downsample', () => {
  it('averages (rounded) and keeps the maxima per bucket, oldest bucket first', () => {
    const min = 60_000;
    const points = downsample(
      [
        sample(10 * min + 1000, 4),
        sample(5 * min, 1),
        sample(6 * min, 2),
        sample(9 * min, 6),
        sample(11 * min, 0),
      ],
      5 * min,
    );
    expect(points.map((p) => [p.t, p.samples])).toEqual([
      [5 * min, 3],
      [10 * min, 2],
    ]);
    expect(points[0]!.queues.deferred).toEqual({ count: 3, bytes: 3000, countMax: 6, bytesMax: 6000 });
    expect(points[1]!.queues.deferred).toEqual({ count: 2, bytes: 2000, countMax: 4, bytesMax: 4000 });
    expect(points[1]!.queues.active).toEqual({ count: 0, bytes: 0, countMax: 0, bytesMax: 0 });
  });
});
