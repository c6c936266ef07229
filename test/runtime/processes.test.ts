/**
 * Real processes: SIGTERM during an active job loses nothing; two worker processes share
 * one queue; a private redis-server (unix socket, password file) is started when none is
 * configured or answers; a bad
 * config stops start-up with the file, the field and the reason.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { enqueueJob } from '../../src/client/enqueue.js';
import { closeQueues, openQueues } from '../../src/core/queues.js';
import { connectRedis, redisAnswers, resolveRedis, stateKey } from '../../src/core/redis.js';
import { freePort } from '../fixtures/ports.js';
import { usePrivateRedis } from '../helpers/private-redis.js';
import { freshPrefix, openEvents, silentLog, writeConfig } from '../helpers/runtime.js';
import { echoJob, openGate, testJobs } from '../helpers/test-jobs.js';

const srv = usePrivateRedis();
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

const TSX = ['--import', 'tsx'];

/** Starts test/helpers/worker-main.ts; resolves once it printed "ready". */
async function workerProcess(configFile: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...TSX, 'test/helpers/worker-main.ts', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`worker exited ${code}: ${stderr}`)));
  });
  return child;
}

const exited = (c: ChildProcess) =>
  new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', r)));

async function harness() {
  const prefix = freshPrefix();
  const file = writeConfig(srv.url, prefix);
  const queues = openQueues(testJobs, srv.url, prefix);
  const queue = queues.get('echo')!;
  queue.setMaxListeners(50); // one listener per job awaited below
  const events = await openEvents('echo', srv.url, prefix);
  return {
    prefix,
    file,
    queue,
    events,
    enqueue: (p: unknown) => enqueueJob(queue, echoJob, p, { redis: srv.redis, prefix }),
    async close() {
      await events.close();
      await closeQueues(queues);
    },
  };
}

describe('worker processes', () => {
  it('SIGTERM during an active job returns it to the queue; another worker finishes it, each step once', async () => {
    const h = await harness();
    try {
      const first = await workerProcess(h.file);
      const { jobId } = await h.enqueue({ target: 'long', steps: 12, gated: true });
      const steps = stateKey(h.prefix, 'echo', 'long');
      await openGate(srv.redis, h.prefix, 'long', 3);
      await expect.poll(() => srv.redis.llen(steps), { timeout: 60_000 }).toBe(3); // a worker starting under tsx
      first.kill('SIGTERM');
      expect(await exited(first)).toBe(0);
      const job = (await h.queue.getJob(jobId))!;
      expect(await job.getState()).toBe('waiting');
      expect(job.attemptsMade).toBe(0); // back to the queue, no attempt spent
      expect(await srv.redis.llen(steps)).toBe(3);

      await openGate(srv.redis, h.prefix, 'long', 9);
      const second = await workerProcess(h.file);
      const result = await job.waitUntilFinished(h.events, 60_000);
      expect(result).toMatchObject({ target: 'long', steps: 12, processedBy: second.pid });
      expect(await srv.redis.lrange(steps, 0, -1)).toEqual(Array.from({ length: 12 }, (_, i) => String(i)));
      second.kill('SIGTERM');
      expect(await exited(second)).toBe(0);
    } finally {
      await h.close();
    }
  }, 180_000); // worker processes start under tsx: slow on a loaded machine

  it('two worker processes on one queue share the work', async () => {
    const h = await harness();
    try {
      const [a, b] = await Promise.all([workerProcess(h.file), workerProcess(h.file)]);
      const ids = [];
      for (let i = 0; i < 16; i++)
        ids.push((await h.enqueue({ target: `t${i}`, steps: 1, gated: true })).jobId);
      // Each process runs at most 2 (the job's concurrency): 4 running at once means both have work.
      await expect.poll(() => h.queue.getActiveCount(), { timeout: 60_000 }).toBe(4);
      for (let i = 0; i < 16; i++) await openGate(srv.redis, h.prefix, `t${i}`, 1);
      const results = await Promise.all(
        ids.map(async (id) => (await h.queue.getJob(id))!.waitUntilFinished(h.events, 60_000)),
      );
      const pids = new Set(results.map((r: { processedBy: number }) => r.processedBy));
      expect(pids).toEqual(new Set([a.pid, b.pid]));
      a.kill('SIGTERM');
      b.kill('SIGTERM');
      await Promise.all([exited(a), exited(b)]);
    } finally {
      await h.close();
    }
  }, 180_000); // worker processes start under tsx: slow on a loaded machine
});

describe('start-up', () => {
  it('starts a private redis-server on a unix socket only, with a 0600 password file, and finds it again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailjobs-private-redis-'));
    const unused = `redis://127.0.0.1:${await freePort()}`;
    const opts = { defaultUrl: unused, privateDir: dir };
    await expect(resolveRedis({}, silentLog, { startPrivate: false, ...opts })).rejects.toThrow(
      /no Redis answers at .* run "mailjobs start" first, or set REDIS_URL/,
    );
    const started = await resolveRedis({}, silentLog, { startPrivate: true, ...opts });
    expect(started.url).toBe(`unix:${dir}/redis.sock`);
    expect(statSync(join(dir, 'password')).mode & 0o777).toBe(0o600);
    expect(started.password?.reveal()).toBe(readFileSync(join(dir, 'password'), 'utf8').trim());
    expect(await redisAnswers({ url: started.url })).toBe(false); // no password: refused
    // a second process finds the running private instance (socket + password file) instead of starting another
    const found = await resolveRedis({}, silentLog, { startPrivate: false, ...opts });
    const r = connectRedis(found);
    r.on('error', () => undefined); // it reconnects after SHUTDOWN below
    try {
      expect(await r.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await r.config('GET', 'port')).toEqual(['port', '0']);
      await r.shutdown('NOSAVE').catch(() => undefined);
    } finally {
      r.disconnect();
    }
    await expect.poll(() => redisAnswers(found, 200)).toBe(false);
  });

  it('a bad config stops `mailjobs start` with the file, the field and the reason, no stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailjobs-badcfg-'));
    const file = join(dir, 'mailjobs.yaml');
    writeFileSync(file, 'schedules:\n  echo: { cron: "every day" }\n');
    const child = spawn(process.execPath, [...TSX, 'src/cli.ts', 'start', '--config', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    expect(await exited(child)).toBe(2);
    expect(stderr.trim()).toMatch(
      new RegExp(`^mailjobs: ${file}: schedules\\.echo\\.cron: invalid cron expression "every day"`),
    );
    expect(stderr).not.toContain('    at ');
  });
});
