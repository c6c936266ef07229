/**
 * A Worker whose blocking connection is lost while its other connection works: Redis drops it
 * (CLIENT KILL), and the reconnection lands on a path that accepts and then answers nothing (a
 * dead route behind a load balancer, a proxy that lost its upstream). ioredis waits for the
 * answer to its ready check without a deadline, and BullMQ waits for ioredis: the Worker says it
 * runs and takes no job, with no error. Without the watchdog a job enqueued then waits while the
 * Worker goes on checking for stalled jobs; with it the Worker is replaced, the job runs once,
 * and the restart is logged and counted in /metrics.
 *
 * The worker reaches Redis through the TCP proxy of test/helpers, which stalls the next
 * connection it accepts; the test's own connections go to Redis directly.
 */
import { Writable } from 'node:stream';
import type { Queue } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { collectMetrics } from '../../src/dashboard/metrics.js';
import { openQueue } from '../../src/core/queues.js';
import { resolveRedis, stateKey } from '../../src/core/redis.js';
import { openRuntime } from '../../src/runtime.js';
import type { WorkerSet } from '../../src/worker/workers.js';
import { usePrivateRedis } from '../helpers/private-redis.js';
import { parsePrometheus, valueOf } from '../helpers/prometheus.js';
import { configFor, freshPrefix, silentLog, startTestWorkers, writeConfig } from '../helpers/runtime.js';
import { TcpProxy, type Passing } from '../helpers/tcp-proxy.js';
import { testJobs } from '../helpers/test-jobs.js';

const fx = usePrivateRedis();
let proxy: TcpProxy;
beforeAll(async () => {
  proxy = await TcpProxy.start(Number(new URL(fx.url).port));
});
afterAll(async () => {
  await proxy?.close();
});

/**
 * Kills the worker's blocking connection (the one in BZPOPMIN) and stalls its reconnection.
 * Resolves once the reconnection is stalled.
 */
async function loseBlockingConnection(): Promise<void> {
  const accepted = proxy.accepted;
  const stalled = proxy.stallOn((p) => p.connection > accepted);
  let killed = 0;
  await expect
    .poll(
      async () => {
        const list = (await fx.redis.client('LIST')) as string;
        const id = /^id=(\d+) .* cmd=bzpopmin/m.exec(list)?.[1];
        if (id) killed = Number(await fx.redis.client('KILL', 'ID', id));
        return killed;
      },
      { timeout: 30_000 },
    )
    .toBe(1);
  await stalled;
}

const sends = (word: string) => (p: Passing) =>
  p.direction === 'up' && p.chunk.toString('latin1').toLowerCase().includes(word);

/** Chunks sent so far that name `word` (such as a key of the stalled-jobs check). */
function counter(word: string): () => number {
  let n = 0;
  const match = sends(word);
  proxy.watch((p) => {
    if (match(p)) n++;
  });
  return () => n;
}

interface Started {
  set: WorkerSet;
  queue: Queue;
  prefix: string;
  messages(): string[];
  stop(): Promise<void>;
}

/** Workers of the test jobs, reaching Redis through the proxy, logging to memory. */
async function start(watchdogSeconds: number): Promise<Started> {
  const prefix = freshPrefix();
  const base = configFor(`redis://127.0.0.1:${proxy.port}`, prefix);
  const config: Config = { ...base, workers: { ...base.workers, watchdogSeconds } };
  const lines: string[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  );
  const redisSettings = await resolveRedis(config.redis, silentLog, { startPrivate: false });
  const set = startTestWorkers({ config, redisSettings, redis: fx.redis }, testJobs, log);
  await Promise.all(set.workers.map((w) => w.waitUntilReady()));
  const queue = openQueue('echo', fx.url, prefix);
  return {
    set,
    queue,
    prefix,
    messages: () => lines.map((l) => (JSON.parse(l) as { msg: string }).msg),
    async stop() {
      await set.close();
      await queue.close();
    },
  };
}

const ranSteps = (prefix: string, target: string) => fx.redis.llen(stateKey(prefix, 'echo', target));

it('without the watchdog, a worker whose blocking connection was lost says it runs, and takes no job', async () => {
  const w = await start(0);
  const worker = w.set.workers[0]!;
  const stalledChecks = counter('stalled-check');
  await loseBlockingConnection();
  const job = await w.queue.add('echo', { target: 'lost', steps: 1 });
  // The worker is alive: its other connection goes on checking for stalled jobs, every
  // lockDuration (5 s). Four checks are 15 s, beyond BullMQ's own 11 s bound on one wait.
  const checksAtEnqueue = stalledChecks();
  await expect
    .poll(() => stalledChecks() - checksAtEnqueue, { timeout: 120_000, interval: 500 })
    .toBeGreaterThanOrEqual(4);
  expect(await job.getState()).toBe('waiting');
  expect(worker.isRunning()).toBe(true);
  expect(await ranSteps(w.prefix, 'lost')).toBe(0);

  // The dead path ends in a reset: ioredis connects again, and the job runs.
  proxy.cut();
  await expect.poll(() => job.getState(), { timeout: 60_000 }).toBe('completed');
  await w.stop();
}, 240_000);

it('with the watchdog, the stuck worker is replaced: the job runs once, the restart is logged and counted', async () => {
  const w = await start(15);
  const stuck = w.set.workers[0]!;
  await loseBlockingConnection();
  const job = await w.queue.add('echo', { target: 'healed', steps: 2 });
  await expect.poll(() => job.getState(), { timeout: 120_000, interval: 500 }).toBe('completed');
  expect(await ranSteps(w.prefix, 'healed')).toBe(2);
  expect(w.messages().filter((m) => m.startsWith('worker stopped taking jobs'))).toHaveLength(1);
  expect(w.set.workers[0]).not.toBe(stuck);

  // The new worker goes on taking jobs.
  const next = await w.queue.add('echo', { target: 'next', steps: 1 });
  await expect.poll(() => next.getState(), { timeout: 60_000 }).toBe('completed');

  const rt = await openRuntime({
    configFlag: writeConfig(fx.url, w.prefix),
    jobs: testJobs,
    log: silentLog,
    startPrivateRedis: false,
  });
  try {
    const samples = parsePrometheus((await collectMetrics(rt)).text);
    expect(valueOf(samples, 'mailjobs_worker_restarts_total', { queue: 'echo' })).toBe(1);
  } finally {
    await rt.close();
  }
  // The stuck worker's blocking socket was destroyed: shutdown does not wait for the dead path.
  await w.stop();
  expect(await ranSteps(w.prefix, 'healed')).toBe(2);
}, 240_000);
