/**
 * The Redis connection of the learn pipe's producers (`mailjobs-learn`, `mailjobs enqueue
 * learn`): one that gives up in seconds, since nobody should wait on a Redis that is away.
 * `mailjobs-learn` imports this module only when it has something to queue.
 */
import { Redis } from 'ioredis';
import { redisOptions } from '../../core/redis.js';
import type { PipeSettings } from './pipe-settings.js';

export function connectPipeRedis(settings: PipeSettings): Redis {
  const redis = new Redis({
    ...redisOptions(settings.redis),
    connectTimeout: 3000,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => (times > 2 ? null : 300),
  });
  redis.on('error', () => undefined); // each failed command says why
  return redis;
}
