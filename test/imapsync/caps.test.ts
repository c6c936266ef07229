/**
 * Bounded bulk migration: many tasks at one remote host run at most `maxRunningPerHost` at once
 * across two worker processes (counted at a TCP proxy in front of the remote Dovecot: each run
 * holds one remote connection), the others wait for a slot (delayed, not failed) and say so;
 * and a throttling answer (`NO [THROTTLED]`, given by the proxy in place of the real server's
 * answer to one body FETCH) pauses the host for every task there, logged once, after which the
 * runs resume from their state and finish, nothing failed; Microsoft's suggested backoff pauses
 * the host for the time it names, and `mailjobs run` waits it out (and waits for slots) too.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imapsyncJob } from '../../src/jobs/imapsync/index.js';
import { stateKey } from '../../src/core/redis.js';
import { RunRecordStore } from '../../src/worker/run-record.js';
import { openJobClient } from '../helpers/job-client.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { freshPrefix, runCli } from '../helpers/runtime.js';
import { exited, loggedWorker, workerProcesses } from '../helpers/worker-process.js';
import { type CorpusMessage, contents, makeMessage, seed, snapshot } from './corpus.js';
import { type SyncWorld, type TaskSpec, runImapsync, startSyncWorld, writeSyncConfig } from './world.js';

const TASKS = 12;
const PER_TASK = 20;
const CAP = 4;

let w: SyncWorld;
const workers = workerProcesses('error');
const proxies: TcpProxy[] = [];
beforeAll(async () => {
  w = await startSyncWorld();
});
afterAll(async () => {
  workers.killAll();
  await Promise.allSettled(proxies.map((p) => p.close()));
  await w?.stop();
});

async function accounts(tag: string, n: number, perTask: number) {
  const body = 'Some words so that each message weighs a few kilobytes.\r\n'.repeat(60);
  return Promise.all(
    Array.from({ length: n }, async (_, t) => {
      const remote = await w.remote.addUser(`r-${tag}${t}`);
      const local = await w.local.addUser(`l-${tag}${t}`);
      const messages: CorpusMessage[] = Array.from({ length: perTask }, (_, i) => ({
        folder: 'INBOX',
        raw: makeMessage(`${tag}-${t}-${i}`, { body }),
        flags: i % 2 ? ['\\Seen'] : [],
        internalDate: new Date(Date.UTC(2020, 0, 1) + i * 60_000),
      }));
      await seed(w.remote, remote.user, messages);
      const spec: TaskSpec = {
        id: `${tag}${t}`,
        localUser: local.user,
        remoteUser: remote.user,
        password: remote.password,
      };
      return { remote, local, spec };
    }),
  );
}

async function exactCopy(remoteUser: string, localUser: string, n: number): Promise<void> {
  const src = contents((await snapshot(w.remote, remoteUser)).get('INBOX'));
  expect(src).toHaveLength(n);
  expect(contents((await snapshot(w.local, localUser)).get('INBOX'))).toEqual(src);
}

describe('imapsync caps and throttling', () => {
  it(`${TASKS} tasks at one host, cap ${CAP}: never more than ${CAP} in session, the others wait, all complete`, async () => {
    const pairs = await accounts('cap', TASKS, PER_TASK);
    // Slow on purpose: the remote's bytes trickle, so runs overlap and the cap is what holds them.
    const proxy = await TcpProxy.start(w.remote.imapsPort!, { downBytesPerSecond: 150_000 });
    proxies.push(proxy);
    const file = writeSyncConfig(
      w,
      pairs.map((p) => p.spec),
      [
        'workers: { lockDurationSeconds: 5, concurrency: { imapsync: 8 } }',
        `imapsync: { parallelFolders: 1, maxRunningPerHost: ${CAP} }`,
      ],
      freshPrefix(),
      { remote: proxy.port },
    );
    const client = await openJobClient(w.redis.url, file, imapsyncJob);
    const started: ChildProcess[] = [];
    try {
      const jobs = await Promise.all(pairs.map((p) => client.enqueue({ task: p.spec.id })));
      started.push(workers.start(file), workers.start(file));
      // The cap is reached while other runs wait for a slot, and their progress says so.
      await expect.poll(() => proxy.connections, { timeout: 60_000 }).toBe(CAP);
      await expect
        .poll(
          async () => {
            const delayed = await client.queue.getDelayed();
            return delayed.some((j) => (j.progress as { waiting?: string }).waiting === 'slot');
          },
          { timeout: 60_000 },
        )
        .toBe(true);
      // The fleet (`status --sync`, the Synchronization page) says why a queued task waits.
      const waitingTexts = async () => {
        const r = await runCli(['status', '--sync', '--json', '--config', file], [imapsyncJob]);
        const fleet = JSON.parse(r.out) as { tasks: { waiting?: string }[] };
        return fleet.tasks.flatMap((t) => (t.waiting ? [t.waiting] : []));
      };
      await expect
        .poll(waitingTexts, { timeout: 60_000 })
        .toContain(`waiting for a free slot (${CAP} per host at 127.0.0.1)`);
      const results = await Promise.all(
        jobs.map(async ({ jobId }) => {
          const job = (await client.queue.getJob(jobId))!;
          return (await job.waitUntilFinished(client.events, 240_000)) as Record<string, unknown>;
        }),
      );
      for (const r of results) expect(r).toMatchObject({ outcome: 'ok', copied: PER_TASK });
      expect(proxy.peak).toBe(CAP);
      for (const p of pairs) await exactCopy(p.remote.user, p.local.user, PER_TASK);
      // Waiting for a slot is no failure: no run record counts one.
      const runs = new RunRecordStore(client.redis, (...parts) =>
        stateKey(client.config.redis.prefix, ...parts),
      );
      for (const p of pairs) {
        const record = await runs.read('imapsync', p.spec.id);
        expect(record).toMatchObject({ consecutiveFailures: 0, lastOutcome: 'success' });
        expect(record?.lastFailureAt).toBeUndefined();
        expect(record?.waitingUntil).toBeUndefined();
      }
    } finally {
      for (const c of started) c.kill('SIGTERM');
      await Promise.all(started.map(exited));
      await client.close();
    }
  }, 300_000);

  it.each([
    ['maxRunningPerHost: 1', 'cli'],
    ['maxRunning: 1, maxRunningPerHost: 10', 'glob'],
  ])(
    'mailjobs run waits for a slot too: two runs with %s both finish, one at a time',
    async (caps, tag) => {
      const pairs = await accounts(tag, 2, PER_TASK);
      const proxy = await TcpProxy.start(w.remote.imapsPort!, { downBytesPerSecond: 100_000 });
      proxies.push(proxy);
      const file = writeSyncConfig(
        w,
        pairs.map((p) => p.spec),
        [`imapsync: { parallelFolders: 1, ${caps} }`],
        freshPrefix(),
        { remote: proxy.port },
      );
      const runs = await Promise.all(pairs.map((p) => runImapsync(file, { task: p.spec.id })));
      for (const r of runs) expect(r.result).toMatchObject({ outcome: 'ok', copied: PER_TASK });
      expect(proxy.accepted).toBe(2);
      expect(proxy.peak).toBe(1);
      for (const p of pairs) await exactCopy(p.remote.user, p.local.user, PER_TASK);
    },
    120_000,
  );

  it('NO [THROTTLED] pauses the host for every task there, logged once; the runs resume and finish', async () => {
    const pairs = await accounts('thr', 2, 30);
    const proxy = await TcpProxy.start(w.remote.imapPort);
    proxies.push(proxy);
    const PAUSE_S = 20;
    const file = writeSyncConfig(
      w,
      pairs.map((p) => p.spec),
      [`imapsync: { parallelFolders: 1, throttlePauseSeconds: ${PAUSE_S} }`],
      freshPrefix(),
      { remote: proxy.port, remotePlain: true },
    );
    // The first body FETCH is refused by "the server" (the proxy), the way providers throttle.
    const injection = proxy.answerOn((p) => {
      const line = p.chunk.toString('latin1');
      const m = /^(\S+) UID FETCH \S+ \(.*BODY\.PEEK\[\]/m.exec(line);
      if (!m) return undefined;
      injection.remove();
      return `${m[1]} NO [THROTTLED] Too many requests, slow down\r\n`;
    });
    const client = await openJobClient(w.redis.url, file, imapsyncJob);
    const worker = loggedWorker(file);
    try {
      const first = await client.enqueue({ task: pairs[0]!.spec.id });
      const pausedKey = stateKey(client.config.redis.prefix, 'imapsync', 'host-paused', '127.0.0.1');
      await expect.poll(() => client.redis.pttl(pausedKey), { timeout: 60_000 }).toBeGreaterThan(0);
      expect(proxy.answered).toBe(1);
      const firstJob = (await client.queue.getJob(first.jobId))!;
      await expect.poll(() => firstJob.getState(), { timeout: 30_000 }).toBe('delayed');
      // Another task at the same host, started during the pause, waits for it without connecting.
      const accepted = proxy.accepted;
      const second = await client.enqueue({ task: pairs[1]!.spec.id });
      const secondJob = (await client.queue.getJob(second.jobId))!;
      await expect
        .poll(
          async () => ((await client.queue.getJob(second.jobId))!.progress as { waiting?: string }).waiting,
          {
            timeout: 30_000,
          },
        )
        .toBe('host paused');
      expect(await client.redis.pttl(pausedKey)).toBeGreaterThan(0);
      expect(proxy.accepted).toBe(accepted);
      const runs = new RunRecordStore(client.redis, (...parts) =>
        stateKey(client.config.redis.prefix, ...parts),
      );
      expect(await runs.read('imapsync', pairs[0]!.spec.id)).toMatchObject({
        consecutiveFailures: 0,
        waitingReason: expect.stringContaining('THROTTLED'),
      });
      const [r1, r2] = (await Promise.all([
        firstJob.waitUntilFinished(client.events, 120_000),
        secondJob.waitUntilFinished(client.events, 120_000),
      ])) as Record<string, unknown>[];
      expect(r1).toMatchObject({ outcome: 'ok', messagesOnSource: 30, refused: 0 });
      expect(r2).toMatchObject({ outcome: 'ok', copied: 30 });
      for (const p of pairs) await exactCopy(p.remote.user, p.local.user, 30);
      expect(worker.count('remote host throttled')).toBe(1);
      for (const p of pairs) {
        const record = await runs.read('imapsync', p.spec.id);
        expect(record).toMatchObject({ consecutiveFailures: 0, lastOutcome: 'success' });
        expect(record?.lastFailureAt).toBeUndefined();
      }
      for (const id of [first.jobId, second.jobId])
        expect((await client.queue.getJob(id))!.failedReason).toBeFalsy();
    } finally {
      worker.child.kill('SIGTERM');
      await exited(worker.child);
      await client.close();
    }
  }, 240_000);

  it("Microsoft's suggested backoff pauses the host that long; mailjobs run waits it out and finishes", async () => {
    const [pair] = await accounts('ms', 1, PER_TASK);
    const proxy = await TcpProxy.start(w.remote.imapPort);
    proxies.push(proxy);
    const file = writeSyncConfig(w, [pair!.spec], [], freshPrefix(), {
      remote: proxy.port,
      remotePlain: true,
    });
    // On opening the folder (imapflow itself waits out and repeats a throttled FETCH).
    const injection = proxy.answerOn((p) => {
      const m = /^(\S+) (?:EXAMINE|SELECT) /m.exec(p.chunk.toString('latin1'));
      if (!m) return undefined;
      injection.remove();
      return `${m[1]} NO Request is throttled. Suggested Backoff Time: 1500 milliseconds\r\n`;
    });
    const r = await runImapsync(file, { task: pair!.spec.id });
    expect(proxy.answered).toBe(1);
    expect(r.err).toMatch(/127\.0\.0\.1 throttled: paused until \S+; the run resumes then/);
    expect(r.result).toMatchObject({ outcome: 'ok', copied: PER_TASK });
    await exactCopy(pair!.remote.user, pair!.local.user, PER_TASK);
  }, 120_000);
});
