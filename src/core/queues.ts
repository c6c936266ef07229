/**
 * BullMQ queues, one per job, all under the `{prefix}` hash tag. Producers (CLI, client,
 * dashboard, scheduler) open them here so every one agrees on names, prefix and retention.
 */
import { Queue, type JobsOptions, type RedisConnection } from 'bullmq';
import type { JobContract } from '../jobs/types.js';
import type { RedisTarget } from './redis-settings.js';
import { bullConnection, endConnection, queuePrefix, type EndableConnection } from './redis.js';

/** How long finished jobs stay visible (dashboard, `status`) before BullMQ trims them. */
const KEEP_COMPLETED = { age: 7 * 24 * 3600, count: 1000 };
const KEEP_FAILED = { age: 30 * 24 * 3600, count: 5000 };

/** Default job options from the job's retry policy: exponential backoff, bounded history. */
export function jobOptions(def: JobContract): JobsOptions {
  return {
    attempts: def.retry.attempts,
    backoff: { type: 'exponential', delay: def.retry.backoffSeconds * 1000 },
    removeOnComplete: def.keep?.completed ?? KEEP_COMPLETED,
    removeOnFail: def.keep?.failed ?? KEEP_FAILED,
  };
}

export function openQueue(name: string, redis: RedisTarget, prefix: string): Queue {
  return new Queue(name, {
    connection: bullConnection(redis, { blocking: false }),
    prefix: queuePrefix(prefix),
  });
}

/** One queue per job contract, keyed by job name. Close them with `closeQueues`. */
export function openQueues(
  defs: readonly JobContract[],
  redis: RedisTarget,
  prefix: string,
): Map<string, Queue> {
  return new Map(defs.map((d) => [d.name, openQueue(d.name, redis, prefix)]));
}

/**
 * The client of a BullMQ connection, whether or not it ever got ready: BullMQ's own accessors
 * resolve only once a connection is ready, and one that Redis left mid-way must be ended too.
 * `_client` is set when the connection is made.
 */
export function clientOf(connection: RedisConnection | undefined): EndableConnection | undefined {
  return (connection as unknown as { _client?: EndableConnection } | undefined)?._client;
}

/**
 * Closes every queue, then ends its connection: a queue closed while Redis is away gives up its
 * QUIT after a few retries and would otherwise go on reconnecting (and printing its errors).
 */
export async function closeQueues(queues: Map<string, Queue>): Promise<void> {
  await Promise.allSettled(
    [...queues.values()].map(async (q) => {
      await q.close().catch(() => undefined);
      const client = clientOf(q.getBackend().connection);
      if (client) await endConnection(client);
    }),
  );
}
