/**
 * The Node producers of bayes-learn jobs, as processes with the message on stdin:
 * `mailjobs enqueue learn` and the small `mailjobs-learn` bin. They spool first and always exit
 * 0; with Redis away the message stays spooled until `mailjobs-learn --flush`.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis, queuePrefix, stateKey } from '../../src/core/redis.js';
import { MessageBodies } from '../../src/jobs/bayes-learn/body.js';
import { messageDigest, type BayesLearnPayload } from '../../src/jobs/bayes-learn/schema.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { listProcesses, run } from '../fixtures/service.js';
import { freshPrefix } from '../helpers/runtime.js';
import { textMessage } from './mailboxes.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = [process.execPath, '--import', 'tsx'];

let redis: RedisFixture;
let dir: string;
beforeAll(async () => {
  redis = await startRedis();
  dir = await mkdtemp(path.join(tmpdir(), 'mailjobs-learn-cli-'));
});
afterAll(async () => {
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function setup(redisUrl: string) {
  const prefix = freshPrefix();
  const spool = path.join(dir, prefix);
  const config = path.join(dir, `${prefix}.yaml`);
  const write = (url: string) =>
    writeFile(
      config,
      `redis: { url: "${url}", prefix: ${prefix} }\nbayesLearn: { spoolDir: ${spool}, maxMessageKilobytes: 8 }\n`,
    );
  await write(redisUrl);
  const queue = new Queue('bayes-learn', { connection: { url: redis.url }, prefix: queuePrefix(prefix) });
  return { prefix, spool, config, queue, write };
}

function exec(args: string[], input: Buffer | string) {
  const [node, ...rest] = TSX;
  return run(node!, [...rest, ...args], { input: input.toString('latin1'), timeoutMs: 30_000 });
}

const message = textMessage(
  'cli1',
  'Cheap watches',
  'Replica watches at a fraction of the price, order today.',
);

describe('mailjobs enqueue learn', () => {
  it('queues the message from stdin as a bayes-learn job, once', async () => {
    const s = await setup(redis.url);
    try {
      const args = [
        path.join(ROOT, 'src/cli.ts'),
        'enqueue',
        'learn',
        '--class',
        'spam',
        '--user',
        'alice',
        '--config',
        s.config,
      ];
      const first = await exec(args, message);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout.trim()).toBe('spooled and queued');
      expect((await exec(args, message)).code).toBe(0);
      const jobs = await s.queue.getJobs(['waiting', 'prioritized', 'delayed']);
      expect(jobs).toHaveLength(1);
      const data = jobs[0]!.data as BayesLearnPayload;
      expect(data).toEqual({
        class: 'spam',
        user: 'alice',
        movedAt: expect.any(Number),
        bytes: message.length,
        sha256: messageDigest(message),
        bodyId: expect.any(String),
      });
      // The message waits for the worker in its own key, not in the job.
      const state = connectRedis(redis.url);
      try {
        const bodies = new MessageBodies(state, (...p) => stateKey(s.prefix, ...p));
        expect((await bodies.get(data.bodyId))?.equals(message)).toBe(true);
      } finally {
        state.disconnect();
      }
      expect(await readdir(s.spool)).toEqual([]);
    } finally {
      await s.queue.close();
    }
  });
});

describe('mailjobs-learn', () => {
  const bin = path.join(ROOT, 'src/bin/mailjobs-learn.ts');

  it('with Redis unreachable: exit 0, the message spooled; --flush queues it once Redis answers', async () => {
    const s = await setup(`unix:${dir}/nothing-here.sock`);
    try {
      const piped = await exec([bin, '--class', 'ham', '--user', 'bob', '--config', s.config], message);
      expect(piped.code).toBe(0);
      expect(piped.stderr).toBe('');
      // The detached flusher (started before the spooler exits) fails against the missing Redis
      // and leaves the file: once it has exited.
      const flushers = () =>
        listProcesses().filter((p) => p.argv.includes('--background') && p.argv.includes(s.config));
      await expect.poll(() => flushers().map((p) => p.pid), { timeout: 30_000 }).toEqual([]);
      expect((await readdir(s.spool)).filter((n) => n.endsWith('.learn'))).toHaveLength(1);

      const failing = await exec([bin, '--flush', '--config', s.config], '');
      expect(failing.code).toBe(1);
      expect(JSON.parse(failing.stdout)).toMatchObject({
        enqueued: 0,
        left: 1,
        error: expect.stringContaining('Redis'),
      });

      await s.write(redis.url);
      const flushed = await exec([bin, '--flush', '--config', s.config], '');
      expect(flushed.code, flushed.stderr).toBe(0);
      expect(JSON.parse(flushed.stdout)).toMatchObject({ enqueued: 1, left: 0 });
      const jobs = await s.queue.getJobs(['waiting']);
      expect(jobs.map((j) => [j.data.class, j.data.user])).toEqual([['ham', 'bob']]);
    } finally {
      await s.queue.close();
    }
  });

  it('a message over the limit, or a bad call, is logged on stderr and exits 0 without spooling', async () => {
    const s = await setup(redis.url);
    try {
      const big = await exec(
        [bin, '--class', 'spam', '--user', 'bob', '--config', s.config],
        Buffer.alloc(9000, 0x61),
      );
      expect(big.code).toBe(0);
      expect(big.stderr).toMatch(/not learned: 9000 bytes, over bayesLearn.maxMessageKilobytes \(8\)/);
      const bad = await exec([bin, '--klass', 'spam'], message);
      expect(bad.code).toBe(0);
      expect(bad.stderr).toMatch(/usage: mailjobs-learn/);
      expect(await readdir(s.spool).catch(() => [])).toEqual([]);
    } finally {
      await s.queue.close();
    }
  });
});
