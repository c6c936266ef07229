/**
 * Workers, dedup, payload validation and the CLI's enqueue/run, against a private Redis.
 */
import { describe, expect, it } from 'vitest';
import { enqueueJob } from '../../src/client/enqueue.js';
import { closeQueues, openQueues } from '../../src/core/queues.js';
import { stateKey } from '../../src/core/redis.js';
import type { WorkerSet } from '../../src/worker/workers.js';
import { usePrivateRedis } from '../helpers/private-redis.js';
import {
  configFor,
  freshPrefix,
  openEvents,
  runCli,
  startTestWorkers,
  writeConfig,
} from '../helpers/runtime.js';
import { echoJob, openGate, testJobs } from '../helpers/test-jobs.js';

const srv = usePrivateRedis();

async function setup() {
  const prefix = freshPrefix();
  const config = configFor(srv.url, prefix);
  const queues = openQueues(testJobs, srv.url, prefix);
  const queue = queues.get('echo')!;
  const events = await openEvents('echo', srv.url, prefix);
  let workers: WorkerSet | undefined;
  return {
    prefix,
    queue,
    events,
    enqueue: (payload: unknown) => enqueueJob(queue, echoJob, payload, { redis: srv.redis, prefix }),
    startWorkers: () =>
      (workers = startTestWorkers({ config, redisSettings: { url: srv.url }, redis: srv.redis }, testJobs)),
    async close() {
      await workers?.close();
      await events.close();
      await closeQueues(queues);
    },
  };
}

describe('queue runtime', () => {
  it('answers "already queued" to a second trigger for the same target, and "running" while it runs', async () => {
    const t = await setup();
    try {
      const first = await t.enqueue({ target: 'acct-1', steps: 3, gated: true });
      expect(first.status).toBe('queued');
      const second = await t.enqueue({ target: 'acct-1' });
      expect(second).toEqual({ status: 'already-queued', jobId: first.jobId, target: 'acct-1' });
      const other = await t.enqueue({ target: 'acct-2' });
      expect(other.status).toBe('queued');

      t.startWorkers();
      const job = (await t.queue.getJob(first.jobId))!;
      await expect.poll(async () => job.getState(), { timeout: 10_000 }).toBe('active');
      const third = await t.enqueue({ target: 'acct-1' });
      expect(third).toMatchObject({ status: 'running', jobId: first.jobId });
      await openGate(srv.redis, t.prefix, 'acct-1', 3);
      await job.waitUntilFinished(t.events, 20_000);
      expect(await srv.redis.lrange(stateKey(t.prefix, 'echo', 'acct-1'), 0, -1)).toEqual(['0', '1', '2']);
      // Once it finished, a new trigger queues a new job.
      expect((await t.enqueue({ target: 'acct-1' })).status).toBe('queued');
    } finally {
      await t.close();
    }
  });

  it('rejects an invalid payload at enqueue with the field named', async () => {
    const t = await setup();
    try {
      await expect(t.enqueue({ target: 'x', steps: 'many' })).rejects.toThrow(
        /invalid echo payload: steps: .*number/,
      );
      expect(await t.queue.count()).toBe(0);
    } finally {
      await t.close();
    }
  });

  it('fails an invalid payload from a raw BullMQ producer without retry, and the next job still runs', async () => {
    const t = await setup();
    try {
      t.startWorkers();
      const bad = await t.queue.add('echo', { target: 42, extra: true }, { attempts: 5 });
      const good = await t.queue.add('echo', { target: 'after-bad', steps: 1 });
      await expect(bad.waitUntilFinished(t.events, 10_000)).rejects.toThrow(
        /invalid echo payload: target: .*string.*; \(payload\): Unrecognized key: "extra"/,
      );
      expect(await good.waitUntilFinished(t.events, 10_000)).toMatchObject({ target: 'after-bad', steps: 1 });
      const failed = (await t.queue.getJob(bad.id!))!;
      expect(failed.attemptsMade).toBe(1); // UnrecoverableError: not retried though attempts is 5
      expect(failed.failedReason).toContain('target');
    } finally {
      await t.close();
    }
  });

  it('does not retry a permanent failure', async () => {
    const t = await setup();
    try {
      t.startWorkers();
      const out = await t.enqueue({ target: 'doomed', fail: 'permanent' });
      const job = (await t.queue.getJob(out.jobId))!;
      await expect(job.waitUntilFinished(t.events, 10_000)).rejects.toThrow('echo doomed: told to fail');
      expect((await t.queue.getJob(out.jobId))!.attemptsMade).toBe(1);
    } finally {
      await t.close();
    }
  });
});

describe('CLI enqueue and run', () => {
  it('`run` and `enqueue --wait` print the same result from the same processor', async () => {
    const t = await setup();
    const file = writeConfig(srv.url, t.prefix);
    try {
      t.startWorkers();
      const payload = JSON.stringify({ target: 'same', steps: 2 });
      const viaQueue = await runCli(['enqueue', 'echo', payload, '--wait', '--config', file], testJobs);
      expect(viaQueue.code).toBe(0);
      await srv.redis.del(stateKey(t.prefix, 'echo', 'same')); // so the second run does the same work
      const inForeground = await runCli(['run', 'echo', payload, '--config', file], testJobs);
      expect(inForeground.code).toBe(0);
      expect(JSON.parse(inForeground.out)).toEqual({ ...JSON.parse(viaQueue.out), processedBy: process.pid });
      expect(JSON.parse(viaQueue.out)).toMatchObject({ target: 'same', steps: 2 });
    } finally {
      await t.close();
    }
  });

  it('`run` exits 1 with the reason, `enqueue` prints the job id, unknown jobs are named', async () => {
    const t = await setup();
    const file = writeConfig(srv.url, t.prefix);
    try {
      const failed = await runCli(
        ['run', 'echo', '{"target":"x","fail":"permanent"}', '--config', file],
        testJobs,
      );
      expect(failed).toMatchObject({ code: 1, err: 'job failed: echo x: told to fail' });
      const invalid = await runCli(['run', 'echo', '{"steps":1}', '--config', file], testJobs);
      expect(invalid.code).toBe(2); // a bad argument: nothing run
      expect(invalid.err).toMatch(/target: .*expected string/);
      const queued = await runCli(['enqueue', 'echo', '{"target":"y"}', '--config', file], testJobs);
      expect(queued.out).toMatch(/^queued [0-9a-f-]{36}$/);
      const unknown = await runCli(['enqueue', 'nope', '{}', '--config', file], testJobs);
      expect(unknown.code).toBe(2);
      expect(unknown.err).toContain('unknown job "nope"; known jobs: echo');
    } finally {
      await t.close();
    }
  });
});
