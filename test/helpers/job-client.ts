/**
 * The client side of a job test: what it takes to enqueue a job of the real registry by a config
 * file and wait for it to finish, as `mailjobs enqueue` would, with no worker of its own.
 */
import type { Queue, QueueEvents } from 'bullmq';
import { enqueueJob } from '../../src/client/enqueue.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { openQueue } from '../../src/core/queues.js';
import { connectRedis, type RedisTarget, type RedisClient } from '../../src/core/redis.js';
import type { JobContract } from '../../src/jobs/types.js';
import { openEvents } from './runtime.js';

export interface JobClient {
  config: Config;
  /** The client's own connection (closed by `close`). */
  redis: RedisClient;
  queue: Queue;
  /** Listening already: `job.waitUntilFinished(events, ms)`. */
  events: QueueEvents;
  enqueue(payload: unknown): ReturnType<typeof enqueueJob>;
  close(): Promise<void>;
}

/** Opens the queue of `job` for `configFile` (whose Redis is at `redisUrl`) for jobs of `job`. */
export async function openJobClient(
  redisUrl: RedisTarget,
  configFile: string,
  job: JobContract,
): Promise<JobClient> {
  const config = loadConfig(configFile, {});
  const redis = connectRedis(redisUrl);
  const queue = openQueue(job.name, redisUrl, config.redis.prefix);
  const events = await openEvents(job.name, redisUrl, config.redis.prefix);
  return {
    config,
    redis,
    queue,
    events,
    enqueue: (payload) => enqueueJob(queue, job, payload, { redis, prefix: config.redis.prefix }),
    async close() {
      await events.close();
      await queue.close();
      await redis.quit();
    },
  };
}
