/**
 * Push (IDLE): a message APPENDed to the remote INBOX is in the local mailbox within seconds,
 * while the interval is an hour and no scheduler runs (only the watcher can have queued the
 * fetch); the watch comes back after `doveadm kick` and after a Redis restart; with two worker
 * processes each account is watched once (IMAP sessions counted by `doveadm who`), and when
 * the watching process is killed the other takes its accounts over.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { RedisClient } from '../../src/core/redis.js';
import { stateKey } from '../../src/core/redis.js';
import { PushStateStore } from '../../src/jobs/getmail/push/state.js';
import type { RedisFixture } from '../fixtures/redis.js';
import type { DovecotFixture } from '../fixtures/dovecot.js';
import { masterSession } from '../helpers/master-session.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { freshPrefix } from '../helpers/runtime.js';
import { exited, workerProcesses } from '../helpers/worker-process.js';
import { startRestartableRedis } from '../junk/restartable-redis.js';
import { mailbox, message, startGetmailWorkers, useWorld, writeWorldConfig, type World } from './world.js';

const w = useWorld();
const processes = workerProcesses('warn');
afterAll(() => processes.killAll());

/** Short periods, so the test sees restarts and take-overs; an hour between interval fetches. */
const PUSH =
  'getmail: { push: { leaseSeconds: 5, idleRestartSeconds: 2, debounceMilliseconds: 200, maxReconnectSeconds: 2 } }\nremoteSessionsPerHost: 20';

async function appendRemote(fx: DovecotFixture, user: string, id: string, folder = 'INBOX'): Promise<void> {
  const client = await masterSession(fx, user);
  try {
    await client.append(folder, message(id));
  } finally {
    await client.logout();
  }
}

/** Message-IDs in the local INBOX. */
async function localIds(fx: DovecotFixture, user: string): Promise<string[]> {
  return (await mailbox(fx, user)).map((m) => /^Message-ID: <(.*)@/m.exec(m.source.toString())?.[1] ?? '?');
}

async function accountPair(world: World, name: string) {
  const remote = await world.remote.addUser(`r-${name}`);
  const local = await world.local.addUser(`l-${name}`);
  return {
    remote,
    local,
    spec: {
      id: `${name}@remote.test`,
      protocol: 'imap' as const,
      user: remote.user,
      password: remote.password,
      deliverTo: local.user,
      intervalMinutes: 60,
    },
  };
}

/** The account's watch state as the watcher wrote it. */
function pushState(redis: RedisClient, prefix: string, account: string) {
  return async () =>
    (await new PushStateStore(redis, (...p) => stateKey(prefix, ...p)).readAll()).get(account);
}

/** IMAP sessions per user on `fx` (`doveadm who`: "user  count  proto  (pids)  (ips)"). */
async function imapSessions(fx: DovecotFixture): Promise<Map<string, number>> {
  const out = (await fx.doveadm(['who'])).stdout;
  const counts = new Map<string, number>();
  for (const line of out.split('\n').slice(1)) {
    const [user, n, proto] = line.trim().split(/\s+/);
    if (user && proto === 'imap') counts.set(user, (counts.get(user) ?? 0) + Number(n));
  }
  return counts;
}

describe('push with in-process workers', () => {
  it('delivers an APPENDed message within 5 s, and again after doveadm kick', async () => {
    const a = await accountPair(w, 'push-idle');
    const prefix = freshPrefix();
    const file = writeWorldConfig(w, [a.spec], PUSH, prefix);
    const workers = await startGetmailWorkers(w, file);
    try {
      const state = pushState(workers.redis, prefix, a.spec.id);
      await expect.poll(async () => (await state())?.phase, { timeout: 30_000 }).toBe('watching');

      await appendRemote(w.remote, a.remote.user, 'push-1');
      await expect.poll(() => localIds(w.local, a.local.user), { timeout: 5_000 }).toEqual(['push-1']);

      const before = (await state())!.since;
      const kicked = await w.remote.doveadm(['kick', a.remote.user]);
      expect(kicked.code).toBe(0);
      await expect
        .poll(
          async () => {
            const s = await state();
            return s?.phase === 'watching' && s.since > before;
          },
          { timeout: 30_000 },
        )
        .toBe(true);
      await appendRemote(w.remote, a.remote.user, 'push-2');
      await expect
        .poll(() => localIds(w.local, a.local.user), { timeout: 5_000 })
        .toEqual(['push-1', 'push-2']);
      // The EXISTS may come after a fetch queued by the reconnect has already delivered it.
      await expect
        .poll(async () => (await state())?.lastEventAt ?? 0, { timeout: 5_000 })
        .toBeGreaterThan(before);
    } finally {
      await workers.close();
    }
  });

  it('ends IDLE and issues it again every idleRestartSeconds, on the same connection (RFC 2177)', async () => {
    const a = await accountPair(w, 'push-reissue');
    const proxy = await TcpProxy.start(w.remote.imapPort);
    let idles = 0;
    let dones = 0;
    void proxy.cutOn(({ direction, chunk }) => {
      const text = chunk.toString('latin1');
      if (direction === 'up' && / IDLE\r\n/.test(text)) idles++;
      if (direction === 'up' && /^DONE\r\n/m.test(text)) dones++;
      return false;
    });
    const prefix = freshPrefix();
    const file = writeWorldConfig(w, [{ ...a.spec, security: 'none', port: proxy.port }], PUSH, prefix);
    const workers = await startGetmailWorkers(w, file);
    try {
      await expect.poll(() => idles, { timeout: 30_000 }).toBeGreaterThanOrEqual(3);
      expect(dones).toBeGreaterThanOrEqual(2);
      expect(proxy.connections).toBe(1);
    } finally {
      await workers.close();
      await proxy.close();
    }
  });

  it('with NOTIFY (Dovecot announces it), a message APPENDed to another fetched folder arrives within 5 s', async () => {
    const a = await accountPair(w, 'push-notify');
    const setup = await masterSession(w.remote, a.remote.user);
    await setup.mailboxCreate('Lists');
    await setup.logout();
    const prefix = freshPrefix();
    const file = writeWorldConfig(w, [{ ...a.spec, folders: '[INBOX, Lists]' }], PUSH, prefix);
    const workers = await startGetmailWorkers(w, file);
    try {
      const state = pushState(workers.redis, prefix, a.spec.id);
      await expect.poll(async () => (await state())?.phase, { timeout: 30_000 }).toBe('watching');
      expect(await state()).toMatchObject({ folder: 'INBOX', notified: ['Lists'], polled: [] });
      await appendRemote(w.remote, a.remote.user, 'in-lists', 'Lists');
      await expect.poll(() => localIds(w.local, a.local.user), { timeout: 5_000 }).toEqual(['in-lists']);
      await appendRemote(w.remote, a.remote.user, 'in-inbox');
      await expect
        .poll(() => localIds(w.local, a.local.user), { timeout: 5_000 })
        .toEqual(['in-lists', 'in-inbox']);
    } finally {
      await workers.close();
    }
  });

  it('watches again after Redis restarts, and delivers within 5 s', async () => {
    const redis = await startRestartableRedis();
    const world: World = {
      ...w,
      redis: { url: redis.url } as RedisFixture,
      redisSettings: { url: redis.url },
      redisYaml: `url: "${redis.url}"`,
      stop: async () => undefined,
    };
    const a = await accountPair(w, 'push-redis');
    const prefix = freshPrefix();
    const file = writeWorldConfig(world, [a.spec], PUSH, prefix);
    const workers = await startGetmailWorkers(world, file);
    const watcher = new Redis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    watcher.on('error', () => undefined);
    try {
      const state = pushState(watcher, prefix, a.spec.id);
      await expect.poll(async () => (await state())?.phase, { timeout: 30_000 }).toBe('watching');
      await redis.down();
      await redis.up(); // empty: no lease, no state, no queue
      await expect
        .poll(async () => (await state().catch(() => undefined))?.phase, { timeout: 30_000 })
        .toBe('watching');
      await appendRemote(w.remote, a.remote.user, 'after-restart');
      await expect.poll(() => localIds(w.local, a.local.user), { timeout: 5_000 }).toEqual(['after-restart']);
    } finally {
      await workers.close();
      watcher.disconnect();
      await redis.stop();
    }
  });
});

describe('push with two worker processes', () => {
  it('watches each account once, and the survivor takes over a killed process’s accounts', async () => {
    const pairs = await Promise.all(['two-a', 'two-b', 'two-c'].map((n) => accountPair(w, `push-${n}`)));
    const prefix = freshPrefix();
    const file = writeWorldConfig(
      w,
      pairs.map((p) => p.spec),
      PUSH,
      prefix,
    );
    const redis = new Redis(w.redis.url);
    const leaseOf = (account: string) => redis.get(stateKey(prefix, 'push', 'lease', account));
    const watchedBy = async () => Promise.all(pairs.map((p) => leaseOf(p.spec.id)));
    const users = pairs.map((p) => p.remote.user);
    const sessionsPerUser = async () => {
      const s = await imapSessions(w.remote);
      return users.map((u) => s.get(u) ?? 0);
    };
    try {
      const first = processes.start(file);
      const second = processes.start(file);
      const states = pairs.map((p) => pushState(redis, prefix, p.spec.id));
      await expect
        .poll(async () => (await Promise.all(states.map(async (s) => (await s())?.phase))).join(), {
          timeout: 60_000,
        })
        .toBe('watching,watching,watching');
      await expect.poll(sessionsPerUser, { timeout: 10_000 }).toEqual([1, 1, 1]);
      // Still once after several lease rounds (a round is a third of the 5 s lease).
      const holdersBefore = await watchedBy();
      await expect
        .poll(
          async () =>
            (await Promise.all(states.map(async (s) => (await s())?.since))).every(
              (t) => t! < Date.now() - 6_000,
            ),
          { timeout: 30_000 },
        )
        .toBe(true);
      expect(await watchedBy()).toEqual(holdersBefore);
      expect(await sessionsPerUser()).toEqual([1, 1, 1]);

      // Kill the process holding the first account's lease; the other must take over.
      const pidOf = (holder: string | null | undefined) => Number(holder?.split(':')[1]);
      const victim = [first, second].find((c) => c.pid === pidOf(holdersBefore[0]))!;
      const survivor = victim === first ? second : first;
      victim.kill('SIGKILL');
      await exited(victim);
      await expect
        .poll(async () => (await watchedBy()).map(pidOf), { timeout: 30_000 })
        .toEqual(pairs.map(() => survivor.pid));
      await expect.poll(sessionsPerUser, { timeout: 15_000 }).toEqual([1, 1, 1]);

      await appendRemote(w.remote, pairs[0]!.remote.user, 'after-takeover');
      await expect
        .poll(() => localIds(w.local, pairs[0]!.local.user), { timeout: 5_000 })
        .toEqual(['after-takeover']);
      survivor.kill('SIGTERM');
      await exited(survivor);
    } finally {
      redis.disconnect();
    }
  });
});
