/**
 * getmail and imapsync on a 3-master Redis Cluster: the same flows as on one Redis (the CLI's
 * `run`, and workers fed through the queue and `enqueue --wait`), every message once in the
 * mailbox. A Cluster refuses any command or script whose keys span hash slots (CROSSSLOT), so
 * these flows passing is the check that every operation of ours stays in one slot; and every key
 * they left is under the run's `{prefix}` hash tag, hence in a single slot. Two schedulers, the
 * dashboard's sessions and login limits and `status` are tried on it too.
 */
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { closeQueues, openQueues } from '../../src/core/queues.js';
import { connectRedis, stateKey } from '../../src/core/redis.js';
import { LoginRateLimiter } from '../../src/dashboard/rate-limit.js';
import { SessionStore } from '../../src/dashboard/sessions.js';
import { registry } from '../../src/jobs/registry.js';
import { desiredSchedules } from '../../src/scheduler/desired.js';
import { reconcileSchedules } from '../../src/scheduler/reconcile.js';
import type { RedisClusterFixture } from '../fixtures/redis-cluster.js';
import {
  deliverTo,
  mailbox,
  message,
  runGetmail,
  startGetmailWorkers,
  startWorld,
  traces,
  writeWorldConfig,
  type World,
} from '../getmail/world.js';
import { contents, corpus, seed, snapshot } from '../imapsync/corpus.js';
import { runImapsync, startSyncWorld, writeSyncConfig, type SyncWorld } from '../imapsync/world.js';
import { freshPrefix, runCli, silentLog } from '../helpers/runtime.js';

let cluster: RedisClusterFixture;
let w: World;
/** Every prefix a test of this file used: the keys of the Cluster must all be under one of them. */
const prefixes: string[] = [];

beforeAll(async () => {
  w = await startWorld({ cluster: true });
  cluster = w.cluster!;
});
afterAll(async () => {
  await w?.stop();
});

/** Every key of every master of the Cluster (SCAN runs per master: each holds its slots' keys). */
async function allKeys(): Promise<string[]> {
  const client = new Cluster(cluster.nodes, { lazyConnect: true });
  try {
    await client.connect();
    const keys: string[] = [];
    for (const node of client.nodes('master')) {
      for await (const batch of node.scanStream({ count: 1000 })) keys.push(...(batch as string[]));
    }
    return keys;
  } finally {
    client.disconnect();
  }
}

describe('getmail on a Redis Cluster', () => {
  it.each(['pop3', 'imap'] as const)(
    '`run` over %s delivers each message once; a rerun fetches nothing',
    async (protocol) => {
      const remoteUser = await w.remote.addUser(`rc-${protocol}`);
      const localUser = await w.local.addUser(`lc-${protocol}`);
      await deliverTo(w.remote, remoteUser.user, [message(`c-${protocol}-1`), message(`c-${protocol}-2`)]);
      const account = `${protocol}@cluster.test`;
      const prefix = freshPrefix();
      prefixes.push(prefix);
      const config = writeWorldConfig(
        w,
        [
          {
            id: account,
            protocol,
            user: remoteUser.user,
            password: remoteUser.password,
            deliverTo: localUser.user,
          },
        ],
        '',
        prefix,
      );
      const first = await runGetmail(config, account);
      expect(first.err).not.toMatch(/CROSSSLOT|job failed/);
      expect(first.result).toMatchObject({ account, fetched: 2, delivered: 2, failed: 0 });
      const again = await runGetmail(config, account);
      expect(again.result).toMatchObject({ fetched: 0, delivered: 0 });
      const local = await mailbox(w.local, localUser.user);
      expect(local).toHaveLength(2);
      expect(new Set(traces(local)).size).toBe(2);
    },
  );

  it('workers take queued jobs (client enqueue and `enqueue --wait`), each message once', async () => {
    const remoteUser = await w.remote.addUser('rc-queue');
    const localUser = await w.local.addUser('lc-queue');
    await deliverTo(w.remote, remoteUser.user, [message('q-1'), message('q-2'), message('q-3')]);
    const account = 'queue@cluster.test';
    const prefix = freshPrefix();
    prefixes.push(prefix);
    const config = writeWorldConfig(
      w,
      [
        {
          id: account,
          protocol: 'imap',
          user: remoteUser.user,
          password: remoteUser.password,
          deliverTo: localUser.user,
        },
      ],
      '',
      prefix,
    );
    const workers = await startGetmailWorkers(w, config);
    try {
      const queued = await workers.enqueue(account);
      expect(queued.status).toBe('queued');
      const job = (await workers.queue.getJob(queued.jobId))!;
      expect(await job.waitUntilFinished(workers.events, 120_000)).toMatchObject({
        fetched: 3,
        delivered: 3,
      });

      await deliverTo(w.remote, remoteUser.user, [message('q-4')]);
      const cli = await runCli(
        ['enqueue', 'getmail', JSON.stringify({ account }), '--wait', '--config', config],
        registry,
      );
      expect(cli.err).toBe('');
      expect(cli.code).toBe(0);
      expect(JSON.parse(cli.out.split('\n').at(-1)!)).toMatchObject({ fetched: 1, delivered: 1 });
    } finally {
      await workers.close();
    }
    const local = await mailbox(w.local, localUser.user);
    expect(local).toHaveLength(4);
    expect(new Set(traces(local)).size).toBe(4);
  });
});

describe('imapsync on a Redis Cluster', () => {
  it('copies every folder and message once; a rerun copies nothing', async () => {
    const sync: SyncWorld = await startSyncWorld({ borrow: { redis: w.redis, redisYaml: w.redisYaml! } });
    try {
      const remote = await sync.remote.addUser('rc-sync');
      const local = await sync.local.addUser('lc-sync');
      const messages = corpus('.', 3, 200_000);
      await seed(sync.remote, remote.user, messages);
      const before = await snapshot(sync.remote, remote.user);
      const prefix = freshPrefix();
      prefixes.push(prefix);
      const config = writeSyncConfig(
        sync,
        [{ id: 'full', localUser: local.user, remoteUser: remote.user, password: remote.password }],
        [],
        prefix,
      );
      const first = await runImapsync(config, { task: 'full' });
      expect(first.err).not.toMatch(/CROSSSLOT|job failed/);
      expect(first.code).toBe(0);
      expect(first.result).toMatchObject({ outcome: 'ok', refused: 0, errors: [] });
      const after = await snapshot(sync.local, local.user);
      expect(contents(after.get('INBOX'))).toEqual(contents(before.get('INBOX')));
      const copied = [...before.values()].reduce((n, list) => n + list.length, 0);
      expect([...after.values()].reduce((n, list) => n + list.length, 0)).toBe(copied);
      const again = await runImapsync(config, { task: 'full' });
      expect(again.result).toMatchObject({ outcome: 'ok', copied: 0 });
      expect(await snapshot(sync.local, local.user)).toEqual(after);
    } finally {
      await sync.stop();
    }
  });
});

describe('other state on a Redis Cluster', () => {
  it('two schedulers at once, dashboard sessions and login limits, and `status` work on it', async () => {
    const prefix = freshPrefix();
    prefixes.push(prefix);
    const remoteUser = await w.remote.addUser('rc-sched');
    const config = writeWorldConfig(
      w,
      [
        {
          id: 'sched@cluster.test',
          protocol: 'imap',
          user: remoteUser.user,
          password: remoteUser.password,
          deliverTo: remoteUser.user,
        },
      ],
      '',
      prefix,
    );
    const loaded = loadConfig(config, {});
    const settings = w.redisSettings!;
    const redis = connectRedis(settings);
    const key = (...parts: string[]) => stateKey(prefix, ...parts);
    const schedulers = [openQueues(registry, settings, prefix), openQueues(registry, settings, prefix)];
    try {
      const reports = await Promise.all(
        schedulers.map((queues) =>
          reconcileSchedules(desiredSchedules(registry, loaded), {
            queues,
            jobs: registry,
            redis,
            prefix,
            log: silentLog,
          }),
        ),
      );
      // the lock let one of them add the schedule, the other found it there
      expect(reports.map((r) => r.added.filter((id) => id.includes('sched@')).length).sort()).toEqual([0, 1]);
      const getmail = schedulers[0]!.get('getmail')!;
      expect((await getmail.getJobSchedulers(0, -1)).map((s) => s.key)).toContain(
        'config:getmail:sched@cluster.test',
      );

      const sessions = new SessionStore(redis, key);
      const { id } = await sessions.create('admin', 'admin', 60);
      expect(await sessions.get(id)).toMatchObject({ user: 'admin' });
      await sessions.destroy(id);
      expect(await sessions.get(id)).toBeUndefined();
      const limiter = new LoginRateLimiter(redis, key, () => ({
        perAddress: 5,
        windowMinutes: 1,
        maxUserDelaySeconds: 60,
      }));
      expect(await limiter.attempt('127.0.0.1', 'admin')).toBeUndefined();
      await limiter.succeeded('127.0.0.1', 'admin');

      const status = await runCli(['status', '--json', '--config', config], registry);
      expect(status.err).not.toMatch(/CROSSSLOT|Redis at/);
      expect(status.out).toContain('sched@cluster.test');
    } finally {
      await Promise.all(schedulers.map(closeQueues));
      redis.disconnect();
    }
  });
});

describe('keys on a Redis Cluster', () => {
  it('every key the flows above left is under its run’s {prefix} hash tag: one slot per prefix', async () => {
    expect(prefixes.length).toBeGreaterThanOrEqual(5);
    const keys = await allKeys();
    expect(keys.length).toBeGreaterThan(0);
    const outside = keys.filter((k) => !prefixes.some((p) => k.startsWith(`{${p}}:`)));
    expect(outside).toEqual([]);
    for (const p of prefixes)
      expect(
        keys.some((k) => k.startsWith(`{${p}}:`)),
        p,
      ).toBe(true);
  });
});
