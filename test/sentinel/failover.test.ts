/**
 * A Sentinel set (1 master, 1 replica, 3 sentinels) whose master is killed (SIGKILL by its pid
 * file) while 2 workers fetch 500 messages (4 accounts of 125, the remote throttled by a TCP
 * proxy so the fetch is surely under way) and 2 schedulers have set up their schedules: every job
 * completes, every message arrives once, a job enqueued after the failover runs, and the
 * every-3-seconds schedule fires once per period, after the failover too.
 */
import { afterAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { closeQueues, openQueue, openQueues } from '../../src/core/queues.js';
import { connectRedis, type RedisClient } from '../../src/core/redis.js';
import { registry } from '../../src/jobs/registry.js';
import { desiredSchedules } from '../../src/scheduler/desired.js';
import { reconcileSchedules } from '../../src/scheduler/reconcile.js';
import type { WorkerSet } from '../../src/worker/workers.js';
import { deliverTo, mailbox, message, useWorld, writeWorldConfig } from '../getmail/world.js';
import { freshPrefix, silentLog, startTestWorkers } from '../helpers/runtime.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { echoJob } from '../helpers/test-jobs.js';

const w = useWorld({ sentinel: true });
const ACCOUNTS = 4;
const PER_ACCOUNT = 125;
const PERIOD_MS = 3000;
const jobs = [...registry, echoJob];

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** Errors while Redis fails over are expected: the assertions say whether anything was lost. */
const quiet = <T extends { on(event: 'error', listener: () => void): unknown }>(emitter: T): T => {
  emitter.on('error', () => undefined);
  return emitter;
};

const messageIds = (stored: { source: Buffer }[]) =>
  stored.map((m) => /^Message-ID: (.*)\r?$/m.exec(m.source.toString('latin1'))?.[1] ?? '(none)');

it(
  'survives the master being killed mid-fetch: jobs complete, messages once, schedules fire once per period',
  { timeout: 600_000 },
  async () => {
    const range = (n: number) => [...Array(n).keys()];
    const users = await Promise.all(
      range(ACCOUNTS).map(async (i) => {
        const remote = await w.remote.addUser(`rs-${i}`);
        const local = await w.local.addUser(`ls-${i}`);
        await deliverTo(
          w.remote,
          remote.user,
          range(PER_ACCOUNT).map((n) => message(`s${i}-${n}`)),
        );
        return { remote, local, account: `a${i}@sentinel.test` };
      }),
    );
    const proxy = await TcpProxy.start(w.remote.imapPort, { downBytesPerSecond: 20_000 });
    cleanups.push(() => proxy.close());
    const prefix = freshPrefix();
    const configFile = writeWorldConfig(
      w,
      users.map((u) => ({
        id: u.account,
        protocol: 'imap' as const,
        security: 'starttls' as const,
        port: proxy.port,
        user: u.remote.user,
        password: u.remote.password,
        deliverTo: u.local.user,
      })),
      `schedules: { echo: { everySeconds: ${PERIOD_MS / 1000} } }`,
      prefix,
    );
    const config = loadConfig(configFile, {});
    const settings = w.redisSettings!;
    const connect = (): RedisClient => {
      const redis = connectRedis(settings);
      redis.on('error', () => undefined);
      cleanups.push(async () => redis.disconnect());
      return redis;
    };

    // two worker hosts, each with its own connections
    const workerSets: WorkerSet[] = [0, 1].map(() =>
      startTestWorkers({ config, redisSettings: settings, redis: connect() }, jobs),
    );
    cleanups.push(() => Promise.all(workerSets.map((s) => s.close())));
    // two schedulers reconciling at once (as two `mailjobs scheduler` would): the getmail jobs start now
    const schedulers = [0, 1].map(() => ({ redis: connect(), queues: openQueues(jobs, settings, prefix) }));
    for (const s of schedulers) for (const q of s.queues.values()) quiet(q);
    cleanups.push(() => Promise.all(schedulers.map((s) => closeQueues(s.queues))));
    await Promise.all(
      schedulers.map((s) =>
        reconcileSchedules(desiredSchedules(jobs, config), { ...s, jobs, prefix, log: silentLog }),
      ),
    );

    const delivered = async () => {
      let n = 0;
      for (const u of users) n += (await mailbox(w.local, u.local.user)).length;
      return n;
    };
    await expect.poll(delivered, { timeout: 120_000, interval: 300 }).toBeGreaterThanOrEqual(100);
    const oldMaster = await w.sentinel!.masterPort();
    const newMaster = await w.sentinel!.killMaster();
    expect(newMaster).not.toBe(oldMaster);
    const failedOverAt = Date.now();
    expect(await delivered()).toBeLessThan(ACCOUNTS * PER_ACCOUNT); // the fetch was under way
    proxy.throttle({});

    // a job enqueued after the failover runs
    const echo = quiet(openQueue('echo', settings, prefix));
    cleanups.push(() => echo.close());
    const after = await echo.add('echo', { target: 'after-failover', steps: 1 });
    await expect.poll(() => after.getState(), { timeout: 120_000, interval: 300 }).toBe('completed');

    // every getmail job completes and every message is there once
    const getmail = quiet(openQueue('getmail', settings, prefix));
    cleanups.push(() => getmail.close());
    // done: nothing runs or waits, nothing failed, and what is delayed is the schedulers' next runs
    const unfinished = async () => {
      const counts = await getmail.getJobCounts('active', 'waiting', 'prioritized', 'failed');
      const delayed = await getmail.getJobs(['delayed']);
      const retries = delayed.filter((j) => !(j.id ?? '').startsWith('repeat:') || j.attemptsMade > 0);
      return { ...counts, retries: retries.length };
    };
    await expect
      .poll(unfinished, { timeout: 240_000, interval: 500 })
      .toEqual({ active: 0, waiting: 0, prioritized: 0, failed: 0, retries: 0 });
    for (const u of users) {
      const ids = messageIds(await mailbox(w.local, u.local.user));
      expect(ids, u.account).toHaveLength(PER_ACCOUNT);
      expect(new Set(ids).size, u.account).toBe(PER_ACCOUNT);
    }
    const completed = await getmail.getJobs(['completed']);
    expect(new Set(completed.map((j) => (j.data as { account: string }).account))).toEqual(
      new Set(users.map((u) => u.account)),
    );

    // the schedule fires after the failover too, and never twice in one period
    const fires = async () =>
      (await echo.getJobs(['completed', 'active', 'waiting', 'delayed', 'failed']))
        .filter((j) => j.repeatJobKey === 'config:echo' || (j.id ?? '').startsWith('repeat:config:echo:'))
        .filter((j) => j.processedOn !== undefined || j.finishedOn !== undefined);
    await expect
      .poll(async () => (await fires()).filter((j) => j.timestamp > failedOverAt).length, {
        timeout: 60_000,
        interval: 500,
      })
      .toBeGreaterThanOrEqual(2);
    // a scheduler's job id ends with the time of its slot
    const slots = (await fires())
      .map((j) => Number(/:(\d+)$/.exec(j.id ?? '')?.[1] ?? j.timestamp))
      .sort((a, b) => a - b);
    expect(new Set(slots).size).toBe(slots.length);
    for (let i = 1; i < slots.length; i++)
      expect(slots[i]! - slots[i - 1]!).toBeGreaterThanOrEqual(PERIOD_MS);
    for (const j of await fires()) if (j.finishedOn) expect(j.attemptsMade, j.id).toBeLessThanOrEqual(1);
  },
);
