/**
 * The Redis connection of the learn pipe's producers (`mailjobs-learn`, `mailjobs enqueue
 * learn`): one that gives up in seconds, since nobody should wait on a Redis that is away.
 * `mailjobs-learn` imports this module only when it has something to queue.
 */
import { connectRedis, type RedisClient } from '../../core/redis.js';
import type { PipeSettings } from './pipe-settings.js';

export function connectPipeRedis(settings: PipeSettings): RedisClient {
  const redis = connectRedis(settings.redis, { giveUp: true });
  redis.on('error', () => undefined); // each failed command says why
  return redis;
}
