/**
 * Rspamd down: a bayes-learn job fails its attempt as retryable (not permanently), waits with
 * backoff, and learns the message once the controller answers again, sending the password
 * header and the exact bytes. The controller is a stand-in on a fixed port, so it can be "down"
 * first and come up on the same address.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { Queue, type Job } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { connectRedis, queuePrefix, type RedisClient } from '../../src/core/redis.js';
import { queueLearn } from '../../src/jobs/bayes-learn/body.js';
import { bayesLearnJob } from '../../src/jobs/bayes-learn/index.js';
import type { WorkerSet } from '../../src/worker/workers.js';
import { freePort } from '../fixtures/ports.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { freshPrefix, startTestWorkers, writeConfig } from '../helpers/runtime.js';
import { textMessage } from './mailboxes.js';

let redis: RedisFixture;
let state: RedisClient;
let worker: WorkerSet | undefined;
let queue: Queue | undefined;
let server: http.Server | undefined;
let secretDir: string | undefined;

beforeAll(async () => {
  redis = await startRedis();
  state = connectRedis(redis.url);
});
afterAll(async () => {
  await Promise.allSettled([worker?.close(), queue?.close()]);
  server?.close();
  await state?.quit();
  await redis?.stop();
  if (secretDir) await rm(secretDir, { recursive: true, force: true });
});

it('Rspamd down: the attempt fails as retryable with backoff; the message is learned once Rspamd is back', async () => {
  const port = await freePort();
  const prefix = freshPrefix();
  const file = writeConfig(
    redis.url,
    prefix,
    `rspamd: { controllerUrl: "http://127.0.0.1:${port}", timeoutSeconds: 2, passwordFile: ${await passwordFile()} }\nbayesLearn: { trainers: [alice], spoolDir: /nonexistent/mailjobs-test }\n`,
  );
  const config = loadConfig(file, {});
  queue = new Queue('bayes-learn', { connection: state, prefix: queuePrefix(prefix) });
  const message = textMessage(
    'retry1',
    'Great offer',
    'Our prices are the lowest, order now and save money.',
  );
  const outcome = await queueLearn(
    queue,
    { class: 'spam', user: 'alice', message },
    { redis: state, prefix },
  );
  worker = startTestWorkers({ config, redisSettings: { url: redis.url }, redis: state }, [bayesLearnJob]);

  let job: Job | undefined;
  const jobState = async () => {
    job = await queue!.getJob(outcome.jobId);
    return job?.getState();
  };
  await expect.poll(jobState, { timeout: 20_000, interval: 100 }).toBe('delayed');
  expect(job!.attemptsMade).toBe(1);
  expect(job!.failedReason).toMatch(/rspamd POST \/learnspam at 127\.0\.0\.1:\d+: ECONNREFUSED/);
  expect(job!.opts.attempts).toBe(12);

  const received: { url?: string; password?: string; body: Buffer }[] = [];
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ url: req.url, password: req.headers.password as string, body: Buffer.concat(chunks) });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"success":true}');
    });
  });
  await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
  await job!.promote(); // skip the 30 s backoff
  await expect.poll(() => job!.getState(), { timeout: 20_000, interval: 100 }).toBe('completed');
  const done = await queue.getJob(outcome.jobId);
  expect(done?.returnvalue).toMatchObject({ user: 'alice', class: 'spam', outcome: 'learned' });
  expect(received).toHaveLength(1);
  expect(received[0]).toMatchObject({ url: '/learnspam', password: 'controller-secret' });
  expect(received[0]!.body.equals(message)).toBe(true);
});

async function passwordFile(): Promise<string> {
  secretDir = await mkdtemp(`${tmpdir()}/mailjobs-retry-`);
  await writeFile(`${secretDir}/rspamd.password`, 'controller-secret\n', { mode: 0o600 });
  return `${secretDir}/rspamd.password`;
}
