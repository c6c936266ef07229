/**
 * One sample of the Postfix queue: message count and bytes per queue, counted while
 * `postqueue -j` streams, so memory stays constant whatever the queue holds.
 */
import {
  forEachQueued,
  POSTFIX_QUEUES,
  type PostfixQueueName,
  type PostfixTarget,
} from '../../mail/postfix.js';

/** Messages and bytes in one queue. */
export interface QueueCounts {
  count: number;
  bytes: number;
}

/** The queue at one moment: `t` in ms since the epoch. */
export interface QueueSample {
  t: number;
  queues: Record<PostfixQueueName, QueueCounts>;
}

export function emptyQueues(): Record<PostfixQueueName, QueueCounts> {
  return Object.fromEntries(POSTFIX_QUEUES.map((q) => [q, { count: 0, bytes: 0 }])) as Record<
    PostfixQueueName,
    QueueCounts
  >;
}

/** Sum over every queue. */
export function totalOf(queues: Record<PostfixQueueName, QueueCounts>): QueueCounts {
  let count = 0;
  let bytes = 0;
  for (const q of POSTFIX_QUEUES) {
    count += queues[q].count;
    bytes += queues[q].bytes;
  }
  return { count, bytes };
}

/** Counts the queue now (`postqueue -j`). */
export async function sampleQueue(
  target: PostfixTarget,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<QueueSample> {
  const t = Date.now();
  const queues = emptyQueues();
  await forEachQueued(
    target,
    (m) => {
      queues[m.queue].count++;
      queues[m.queue].bytes += m.size;
    },
    opts,
  );
  return { t, queues };
}
