/**
 * A private Redis for the whole test file (started in beforeAll, stopped in afterAll) and a
 * client on it. Read `url` and `redis` inside tests and hooks, not at module load.
 */
import { afterAll, beforeAll } from 'vitest';
import { connectRedis, type RedisClient } from '../../src/core/redis.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';

export interface PrivateRedis {
  readonly url: string;
  readonly redis: RedisClient;
}

export function usePrivateRedis(): PrivateRedis {
  let fx: RedisFixture | undefined;
  let client: RedisClient | undefined;
  beforeAll(async () => {
    fx = await startRedis();
    client = connectRedis(fx.url);
  });
  afterAll(async () => {
    await client?.quit();
    await fx?.stop();
  });
  const started = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the private Redis is used before beforeAll started it');
    return v;
  };
  return {
    get url() {
      return started(fx).url;
    },
    get redis() {
      return started(client);
    },
  };
}
