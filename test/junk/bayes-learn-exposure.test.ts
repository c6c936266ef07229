/**
 * What a dashboard viewer and the mail user can do to bayes-learn. A learn job's data, as Redis
 * holds it and Bull Board (redacted) shows it, names its message but does not hold it, yet the
 * real Rspamd learns the message; once it is learned, or given up, no Redis key holds it. The
 * learn spool, which the mail user can write, gets a FIFO, a symbolic link to a file elsewhere,
 * a `bad` link pointing elsewhere and a sparse file far over the size limit: none stalls the
 * worker, is followed or is read whole, and the good files beside them are learned.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/load.js';
import { connectRedis, queuePrefix, stateKey, type RedisClient } from '../../src/core/redis.js';
import { redact } from '../../src/dashboard/redact.js';
import { bayesLearnJob } from '../../src/jobs/bayes-learn/index.js';
import { LearnedStore } from '../../src/jobs/bayes-learn/learned.js';
import type { BayesLearnPayload } from '../../src/jobs/bayes-learn/schema.js';
import { spoolMessage } from '../../src/jobs/bayes-learn/spool.js';
import { stat as rspamdStat } from '../../src/mail/rspamd.js';
import type { WorkerSet } from '../../src/worker/workers.js';
import { freePort } from '../fixtures/ports.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { startRspamd, type RspamdFixture } from '../fixtures/rspamd.js';
import { makeTempDir, removeTempDir } from '../fixtures/service.js';
import { freshPrefix, startTestWorkers } from '../helpers/runtime.js';
import { wordyMessage } from './mailboxes.js';

let queues: RedisFixture;
let bayesRedis: RedisFixture;
let rspamd: RspamdFixture;
let state: RedisClient;
let dir: string;
const running: { worker: WorkerSet; queue: Queue }[] = [];

beforeAll(async () => {
  [queues, bayesRedis] = await Promise.all([startRedis(), startRedis()]);
  rspamd = await startRspamd({ redisUrl: bayesRedis.url });
  state = connectRedis(queues.url);
  dir = await makeTempDir('learn-exposure');
}, 180_000);

afterAll(async () => {
  for (const r of running) await Promise.allSettled([r.worker.close(), r.queue.close()]);
  state?.disconnect();
  await Promise.allSettled([rspamd?.stop(), queues?.stop(), bayesRedis?.stop()]);
  if (dir) await removeTempDir(dir);
});

/** A config for bayes-learn under a fresh prefix and spool; `start()` runs a worker on it. */
async function learner(name: string, opts: { passwordFile?: string; controllerUrl?: string } = {}) {
  const prefix = freshPrefix();
  const spoolDir = path.join(dir, name, 'spool');
  await mkdir(spoolDir, { recursive: true });
  const file = path.join(dir, name, 'mailjobs.yaml');
  await writeFile(
    file,
    [
      `redis: { url: "${queues.url}", prefix: ${prefix} }`,
      `rspamd: { url: "${rspamd.normalUrl}", controllerUrl: "${opts.controllerUrl ?? rspamd.controllerUrl}", passwordFile: ${opts.passwordFile ?? rspamd.passwordFile}, timeoutSeconds: 10 }`,
      `bayesLearn: { spoolDir: ${spoolDir}, spoolScanSeconds: 1, maxMessageKilobytes: 64, trainers: [alice] }`,
      '',
    ].join('\n'),
  );
  const queue = new Queue('bayes-learn', { connection: state, prefix: queuePrefix(prefix) });
  const learned = new LearnedStore(state, (...p) => stateKey(prefix, ...p), 1);
  const start = () => {
    const config = loadConfig(file, {});
    const worker = startTestWorkers({ config, redisSettings: { url: queues.url }, redis: state }, [
      bayesLearnJob,
    ]);
    running.push({ worker, queue });
  };
  return { prefix, spoolDir, queue, learned, start };
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const controller = () => ({ controllerUrl: rspamd.controllerUrl, password: rspamd.password });

/** The message's text, and its start in base64 (as a payload would carry it). */
const traces = (message: Buffer) => [message.subarray(0, 120), message.toString('base64').slice(0, 120)];

/** Every key under `prefix` whose value (string, hash, list, set, zset or stream) holds `message`. */
async function keysHolding(prefix: string, message: Buffer): Promise<string[]> {
  const found: string[] = [];
  for await (const keys of (state as Redis).scanStream({ match: `${queuePrefix(prefix)}*`, count: 500 })) {
    for (const key of keys as string[]) {
      const type = await state.type(key);
      const values =
        type === 'string'
          ? [(await state.getBuffer(key)) ?? Buffer.alloc(0)]
          : type === 'hash'
            ? await state.hvalsBuffer(key)
            : type === 'list'
              ? await state.lrangeBuffer(key, 0, -1)
              : type === 'set'
                ? await state.smembersBuffer(key)
                : type === 'zset'
                  ? await state.zrangeBuffer(key, 0, -1)
                  : type === 'stream'
                    ? (await state.xrangeBuffer(key, '-', '+')).flatMap(([, f]) => f)
                    : [];
      if (values.some((v) => traces(message).some((t) => v.includes(t)))) found.push(key);
    }
  }
  return found;
}

/** The one job of the queue in `state` (completed or failed), once it is there. */
async function finishedJob(queue: Queue, state_: 'completed' | 'failed') {
  await expect
    .poll(async () => (await queue.getJobs([state_])).length, { timeout: 30_000, interval: 200 })
    .toBe(1);
  return (await queue.getJobs([state_]))[0]!;
}

describe('a learn job and its message', () => {
  it('the job data names the message without holding it; Rspamd learns it; then no Redis key holds it', async () => {
    const l = await learner('learned');
    l.start();
    const before = await rspamdStat(controller());
    const message = wordyMessage('exposure-learned-token');
    await spoolMessage(l.spoolDir, { class: 'spam', user: 'alice', movedAt: Date.now(), message });

    const job = await finishedJob(l.queue, 'completed');
    expect(job.returnvalue).toMatchObject({ outcome: 'learned', bytes: message.length });
    expect((await rspamdStat(controller())).learnedSinceStart).toBe(before.learnedSinceStart + 1);
    // What Bull Board shows a viewer (redacted job data), and the job hash in Redis.
    const shown = JSON.stringify(redact(job.data));
    for (const t of traces(message)) expect(shown).not.toContain(t.toString());
    expect(job.data).toMatchObject({
      class: 'spam',
      user: 'alice',
      bytes: message.length,
      sha256: sha256(message),
    });
    expect(await keysHolding(l.prefix, message)).toEqual([]);
  });

  it('given up (the controller refuses the password): failed, kept without the message, and no Redis key holds it', async () => {
    const wrong = path.join(dir, 'wrong.password');
    await writeFile(wrong, 'not-the-password\n', { mode: 0o600 });
    const l = await learner('refused', { passwordFile: wrong });
    l.start();
    const message = wordyMessage('exposure-refused-token');
    await spoolMessage(l.spoolDir, { class: 'ham', user: 'alice', movedAt: Date.now(), message });

    const job = await finishedJob(l.queue, 'failed');
    expect(job.failedReason).toBe('rspamd /learnham: HTTP 401 Unauthorized');
    expect(job.attemptsMade).toBe(1);
    const shown = JSON.stringify(redact(job.data));
    for (const t of traces(message)) expect(shown).not.toContain(t.toString());
    expect(await keysHolding(l.prefix, message)).toEqual([]);
  });

  it('given up (Rspamd away for all 12 attempts): failed, kept without the message, and no Redis key holds it', async () => {
    const l = await learner('away', { controllerUrl: `http://127.0.0.1:${await freePort()}` });
    l.start();
    const message = wordyMessage('exposure-away-token');
    await spoolMessage(l.spoolDir, { class: 'spam', user: 'alice', movedAt: Date.now(), message });
    // Each retry is promoted instead of waiting out its backoff.
    for (let attempt = 1; attempt < 12; attempt++) {
      const waiting = async () => {
        const [job] = await l.queue.getJobs(['delayed']);
        return job?.attemptsMade === attempt ? job : undefined;
      };
      await expect.poll(waiting, { timeout: 20_000, interval: 100 }).toBeDefined();
      // The body is kept while a retry can still use it.
      expect(await keysHolding(l.prefix, message)).toHaveLength(1);
      await (await waiting())!.promote();
    }
    const job = await finishedJob(l.queue, 'failed');
    expect(job.attemptsMade).toBe(12);
    expect(job.failedReason).toMatch(/ECONNREFUSED/);
    expect(await keysHolding(l.prefix, message)).toEqual([]);
  });

  it('a job (from the typed client) whose message key is gone fails at once, naming bodyId', async () => {
    const l = await learner('gone');
    const client = createClient({ redis: queues.url, prefix: l.prefix }); // the typed client's way in
    const o = await client.learn({ class: 'spam', user: 'alice', message: wordyMessage('gone') });
    await client.close();
    const { bodyId } = (await l.queue.getJob(o.jobId))!.data as BayesLearnPayload;
    expect(await state.del(stateKey(l.prefix, 'bayes-learn', 'body', bodyId))).toBe(1);
    l.start();
    const job = await finishedJob(l.queue, 'failed');
    expect(job.failedReason).toBe(
      'bodyId: the message is no longer in Redis (its key expired or was removed): not learned',
    );
    expect(job.attemptsMade).toBe(1);
  });
});

describe('a learn spool the mail user has tampered with', () => {
  it('a FIFO, a link to a file elsewhere, a `bad` link and a 3 GB sparse file: none stalls, is followed or read; the good files are learned', async () => {
    const l = await learner('hostile'); // everything planted first, then the worker starts
    const elsewhere = path.join(dir, 'hostile', 'elsewhere');
    await mkdir(path.join(elsewhere, 'bad-target'), { recursive: true });
    // A well-formed spool file outside the spool: following the link would learn it.
    const secret = Buffer.concat([
      Buffer.from('{"v":1,"class":"spam","user":"alice","movedAt":1}\n'),
      wordyMessage('outside-secret'),
    ]);
    await writeFile(path.join(elsewhere, 'secret.learn'), secret);
    await promisify(execFile)('mkfifo', [path.join(l.spoolDir, '0000000000001-1-fifo.learn')]);
    await symlink(path.join(elsewhere, 'secret.learn'), path.join(l.spoolDir, '0000000000002-1-link.learn'));
    const huge = await open(path.join(l.spoolDir, '0000000000003-1-huge.learn'), 'w');
    await huge.write('{"v":1,"class":"spam","user":"alice","movedAt":3}\n');
    await huge.truncate(3 * 1024 ** 3); // sparse: no disk, but too big for Node to read whole
    await huge.close();
    await symlink(path.join(elsewhere, 'bad-target'), path.join(l.spoolDir, 'bad'));
    await writeFile(path.join(l.spoolDir, '0000000000004-1-junk.learn'), 'not a spool file');
    const good = ['hostile-good-1', 'hostile-good-2'].map((id) => wordyMessage(id));
    for (const message of good)
      await spoolMessage(l.spoolDir, { class: 'spam', user: 'alice', movedAt: Date.now(), message });

    l.start();
    await expect
      .poll(() => l.learned.counts(), { timeout: 30_000, interval: 200 })
      .toMatchObject({ 'learned-spam': 2, 'too-big': 1 });
    await expect.poll(() => readdir(l.spoolDir), { timeout: 10_000, interval: 200 }).toEqual(['bad']);

    for (const message of good) expect(await l.learned.get(sha256(message))).toMatchObject({ class: 'spam' });
    expect(await l.learned.get(sha256(wordyMessage('outside-secret')))).toBeUndefined();
    expect(
      (await l.queue.getJobs(['completed', 'failed', 'waiting', 'delayed'])).map((j) => j.data.sha256).sort(),
    ).toEqual(good.map(sha256).sort());
    // Nothing was moved to where `bad` points, and the file the link named is untouched.
    expect(await readdir(path.join(elsewhere, 'bad-target'))).toEqual([]);
    expect((await readFile(path.join(elsewhere, 'secret.learn'))).equals(secret)).toBe(true);
  });
});
