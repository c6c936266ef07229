/**
 * The target lock against a real Redis: it names its holder, a dead holder of this host is taken
 * over at once (by a job, or cleared by a trigger such as the dashboard's), and `run` /
 * `enqueue --wait` tell "busy" (exit 75, one line naming the holder) from success and failure.
 */
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { enqueueJob } from '../../src/client/enqueue.js';
import { closeQueues, openQueues } from '../../src/core/queues.js';
import { stateKey } from '../../src/core/redis.js';
import { acquireTargetLock, type HeldLock, lockValue } from '../../src/core/target-lock.js';
import type { WorkerSet } from '../../src/worker/workers.js';
import { usePrivateRedis } from '../helpers/private-redis.js';
import { configFor, freshPrefix, runCli, startTestWorkers, writeConfig } from '../helpers/runtime.js';
import { echoJob, testJobs } from '../helpers/test-jobs.js';

const srv = usePrivateRedis();

/** The pid of a process that has exited: a holder killed with -9 leaves such a pid behind. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid;

/** Sets `key` to `value` (see lockValue; a bare job id is what an older version wrote). */
async function plantLock(key: string, value: string, ttlMs = 600_000) {
  await srv.redis.set(key, value, 'PX', ttlMs);
}

function held(lock: HeldLock | { heldBy: unknown }): HeldLock {
  if ('heldBy' in lock) throw new Error(`not taken: held by ${JSON.stringify(lock.heldBy)}`);
  return lock;
}

describe('acquireTargetLock', () => {
  it('takes over at once the lock of a dead process of this host, then names itself to the next', async () => {
    const key = stateKey(freshPrefix(), 'lock', 'echo', 'acct');
    const dead = { jobId: 'run-dead', host: hostname(), pid: deadPid() };
    await plantLock(key, lockValue(dead.jobId, { pid: dead.pid }));
    const lock = held(await acquireTargetLock(srv.redis, key, 'job-2', 30_000));
    expect(lock.tookOverFrom).toMatchObject(dead);

    const before = Date.now();
    const busy = await acquireTargetLock(srv.redis, key, 'job-3', 30_000);
    expect(busy).toMatchObject({
      heldBy: { jobId: 'job-2', host: hostname(), pid: process.pid, expiresAt: expect.any(Number) },
    });
    const { expiresAt } = (busy as { heldBy: { expiresAt: number } }).heldBy;
    expect(expiresAt).toBeGreaterThan(before);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 30_000);
    await lock.release();
    expect(await srv.redis.exists(key)).toBe(0);
  });

  it('leaves alone a holder on another host, and a bare job id written by an older version', async () => {
    const prefix = freshPrefix();
    const elsewhere = stateKey(prefix, 'lock', 'echo', 'a');
    await plantLock(elsewhere, lockValue('far', { host: `not-${hostname()}`, pid: deadPid() }));
    expect(await acquireTargetLock(srv.redis, elsewhere, 'job-1', 30_000)).toMatchObject({
      heldBy: { jobId: 'far', host: `not-${hostname()}` },
    });

    const old = stateKey(prefix, 'lock', 'echo', 'b');
    await plantLock(old, 'bullmq-job-7');
    expect(await acquireTargetLock(srv.redis, old, 'job-1', 30_000)).toEqual({
      heldBy: { jobId: 'bullmq-job-7', expiresAt: expect.any(Number) },
    });
    // The same job retried (a stalled job, under the same id) takes its own lock back.
    await held(await acquireTargetLock(srv.redis, old, 'bullmq-job-7', 30_000)).release();
    expect(await srv.redis.exists(old)).toBe(0);
  });
});

async function setup() {
  const prefix = freshPrefix();
  const file = writeConfig(srv.url, prefix);
  const queues = openQueues(testJobs, srv.url, prefix);
  const queue = queues.get('echo')!;
  let workers: WorkerSet | undefined;
  return {
    file,
    queue,
    lockKey: (target: string) => stateKey(prefix, 'lock', 'echo', target),
    enqueue: (payload: unknown) => enqueueJob(queue, echoJob, payload, { redis: srv.redis, prefix }),
    startWorkers() {
      const config = configFor(srv.url, prefix);
      workers = startTestWorkers({ config, redisSettings: { url: srv.url }, redis: srv.redis }, testJobs);
    },
    async close() {
      await workers?.close();
      await closeQueues(queues);
    },
  };
}

/** `busy: ...` naming `jobId` on this host with `pid`, and an expiry. */
const busyLine = (jobId: string, pid: number) =>
  new RegExp(
    `^busy: the echo target is held by job ${jobId} on ${hostname()} \\(pid ${pid}\\), ` +
      'lock expires at \\S+Z \\(in \\d+ s\\); try again later$',
  );

describe('triggers and exit codes', () => {
  it('a trigger (the dashboard, enqueue) queues at once over a dead holder, and names a live one', async () => {
    const t = await setup();
    try {
      await plantLock(t.lockKey('gone'), lockValue('run-gone', { pid: deadPid() }));
      expect(await t.enqueue({ target: 'gone' })).toMatchObject({ status: 'queued', target: 'gone' });
      expect(await srv.redis.exists(t.lockKey('gone'))).toBe(0);

      await plantLock(t.lockKey('live'), lockValue('run-live'));
      expect(await t.enqueue({ target: 'live' })).toMatchObject({
        status: 'running',
        jobId: 'run-live',
        holder: { jobId: 'run-live', host: hostname(), pid: process.pid, expiresAt: expect.any(Number) },
      });
    } finally {
      await t.close();
    }
  });

  it('`run` over a live holder exits 75 with one line naming it; over a dead one it runs and exits 0', async () => {
    const t = await setup();
    try {
      await plantLock(t.lockKey('x'), lockValue('run-live'));
      const busy = await runCli(['run', 'echo', '{"target":"x","steps":1}', '--config', t.file], testJobs);
      expect(busy).toMatchObject({ code: 75, out: '' });
      expect(busy.err).toMatch(busyLine('run-live', process.pid));

      await plantLock(t.lockKey('x'), lockValue('run-killed', { pid: deadPid() }));
      const ran = await runCli(['run', 'echo', '{"target":"x","steps":1}', '--config', t.file], testJobs);
      expect(ran).toMatchObject({ code: 0, err: '' });
      expect(JSON.parse(ran.out)).toMatchObject({ target: 'x', steps: 1 });

      const failed = await runCli(
        ['run', 'echo', '{"target":"x","fail":"permanent"}', '--config', t.file],
        testJobs,
      );
      expect(failed).toMatchObject({ code: 1, err: 'job failed: echo x: told to fail' });
    } finally {
      await t.close();
    }
  });

  it('`enqueue --wait` exits 75 when a foreground run holds the target', async () => {
    const t = await setup();
    try {
      await plantLock(t.lockKey('y'), lockValue('run-fg'));
      const busy = await runCli(
        ['enqueue', 'echo', '{"target":"y"}', '--wait', '--config', t.file],
        testJobs,
      );
      expect(busy.code).toBe(75);
      expect(busy.err).toMatch(busyLine('run-fg', process.pid));
    } finally {
      await t.close();
    }
  });

  it('`enqueue --wait` exits 75 when its job finds the target taken meanwhile, 1 when the job fails', async () => {
    const t = await setup();
    try {
      const waiting = runCli(['enqueue', 'echo', '{"target":"z"}', '--wait', '--config', t.file], testJobs);
      await expect.poll(() => t.queue.getWaitingCount()).toBe(1); // queued, no worker yet
      await plantLock(t.lockKey('z'), lockValue('run-late'));
      t.startWorkers();
      const busy = await waiting;
      expect(busy.code).toBe(75);
      expect(busy.err).toMatch(busyLine('run-late', process.pid));

      const failed = await runCli(
        ['enqueue', 'echo', '{"target":"w","fail":"permanent"}', '--wait', '--config', t.file],
        testJobs,
      );
      expect(failed).toMatchObject({ code: 1, err: 'job failed: echo w: told to fail' });
    } finally {
      await t.close();
    }
  });
});
