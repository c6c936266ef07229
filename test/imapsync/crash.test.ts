/**
 * kill -9 during a sync: a real `mailjobs worker` process copying a few thousand messages over
 * several folders is killed twice at arbitrary moments; after a restart the job finishes and
 * every source message is in its destination folder exactly once, flags and dates included.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { enqueueJob } from '../../src/client/enqueue.js';
import { loadConfig } from '../../src/config/load.js';
import { closeQueues, openQueues } from '../../src/core/queues.js';
import { bullConnection, queuePrefix } from '../../src/core/redis.js';
import { imapsyncJob } from '../../src/jobs/imapsync/index.js';
import { registry } from '../../src/jobs/registry.js';
import { type CorpusMessage, contents, makeMessage, seed, snapshot } from './corpus.js';
import { startSyncWorld, type SyncWorld, writeSyncConfig } from './world.js';

const FOLDERS = ['INBOX', 'Archiv', 'Projekte', 'Projekte.Überprüfung'];
const PER_FOLDER = 350;

let w: SyncWorld;
const children: ChildProcess[] = [];
beforeAll(async () => {
  w = await startSyncWorld();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await w?.stop();
});

function worker(configFile: string): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'worker', '--config', configFile], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, MAILJOBS_LOG_LEVEL: 'error' },
  });
  children.push(child);
  return child;
}

const exited = (c: ChildProcess) =>
  new Promise<void>((r) => (c.exitCode !== null || c.signalCode ? r() : c.once('exit', () => r())));

async function localCount(user: string): Promise<number> {
  const r = await w.local.doveadm(['mailbox', 'status', '-u', user, 'messages', '*']);
  return [...r.stdout.matchAll(/messages=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
}

it('kill -9 twice during a sync, then finish: every message once', async () => {
  const remote = await w.remote.addUser('r-crash');
  const local = await w.local.addUser('l-crash');
  const body = 'Line of text to give the message some weight.\r\n'.repeat(30);
  const messages: CorpusMessage[] = FOLDERS.flatMap((folder, f) =>
    Array.from({ length: PER_FOLDER }, (_, i) => ({
      folder,
      raw: makeMessage(`crash-${f}-${i}`, { body }),
      flags: i % 4 === 0 ? ['\\Seen'] : i % 7 === 0 ? ['$Label2'] : [],
      internalDate: new Date(Date.UTC(2016, 0, 1) + (f * PER_FOLDER + i) * 3_600_000),
    })),
  );
  await seed(w.remote, remote.user, messages);
  const file = writeSyncConfig(
    w,
    [{ id: 'crash', localUser: local.user, remoteUser: remote.user, password: remote.password }],
    ['imapsync: { parallelFolders: 2 }'],
  );
  const config = loadConfig(file, {});
  const redis = new Redis(w.redis.url);
  const queues = openQueues(registry, w.redis.url, config.redis.prefix);
  const events = new QueueEvents('imapsync', {
    connection: bullConnection(w.redis.url, { blocking: true }),
    prefix: queuePrefix(config.redis.prefix),
  });
  try {
    await events.waitUntilReady();
    const { jobId } = await enqueueJob(
      queues.get('imapsync')!,
      imapsyncJob,
      { task: 'crash' },
      {
        redis,
        prefix: config.redis.prefix,
      },
    );
    const total = messages.length;
    for (const killAt of [
      total * 0.15 + Math.random() * total * 0.15,
      total * 0.45 + Math.random() * total * 0.2,
    ]) {
      const victim = worker(file);
      await expect
        .poll(() => localCount(local.user), { timeout: 90_000, interval: 20 })
        .toBeGreaterThanOrEqual(Math.floor(killAt));
      victim.kill('SIGKILL');
      await exited(victim);
    }
    expect(await localCount(local.user)).toBeLessThan(total);
    const survivor = worker(file);
    const job = (await queues.get('imapsync')!.getJob(jobId))!;
    const result = (await job.waitUntilFinished(events, 180_000)) as Record<string, unknown>;
    survivor.kill('SIGTERM');
    await exited(survivor);
    expect(result).toMatchObject({ outcome: 'ok', refused: 0 });

    const src = await snapshot(w.remote, remote.user);
    const dst = await snapshot(w.local, local.user);
    const where: Record<string, string> = {
      'Projekte.Überprüfung': 'Projekte/Überprüfung',
      Archiv: 'Archive',
    };
    for (const folder of FOLDERS) {
      const copy = contents(dst.get(where[folder] ?? folder));
      expect(copy, folder).toHaveLength(PER_FOLDER);
      expect(copy, folder).toEqual(contents(src.get(folder)));
    }
    expect(await localCount(local.user)).toBe(total);
  } finally {
    await events.close();
    await closeQueues(queues);
    await redis.quit();
  }
}, 300_000);
