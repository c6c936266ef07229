/**
 * The dashboard's view of one job as it finishes: a page follows a job by its view and reads
 * its result once the state says completed. A view built from a job read before it finished
 * must still show that result (on a busy machine the job often finishes in between).
 */
import { Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bullConnection, queuePrefix } from '../../src/core/redis.js';
import { viewOf } from '../../src/dashboard/pages/jobs.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { freshPrefix } from '../helpers/runtime.js';

let redis: RedisFixture;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

it('a job read before it completed is viewed with its result once it has', async () => {
  const prefix = queuePrefix(freshPrefix());
  const queue = new Queue('job-view', { connection: bullConnection(redis, { blocking: false }), prefix });
  const worker = new Worker('job-view', async () => ({ deleted: 3 }), {
    connection: bullConnection(redis, { blocking: true }),
    prefix,
    autorun: false,
  });
  try {
    const { id } = await queue.add('delete', {});
    const readBefore = (await queue.getJob(id!))!;
    void worker.run();
    await expect.poll(async () => (await queue.getJob(id!))?.finishedOn).toBeDefined();
    expect(readBefore.finishedOn).toBeUndefined();
    expect(await viewOf(queue, readBefore)).toMatchObject({ state: 'completed', result: { deleted: 3 } });
  } finally {
    await worker.close();
    await queue.close();
  }
});
