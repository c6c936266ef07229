/**
 * kill -9 during a sync: a real `mailjobs worker` process copying a few thousand messages over
 * several folders is killed twice at arbitrary moments; after a restart the job finishes and
 * every source message is in its destination folder exactly once, flags and dates included.
 * The killed runs read the remote through a throttling proxy, so a kill lands mid-run on a machine
 * of any speed.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { imapsyncJob } from '../../src/jobs/imapsync/index.js';
import { openJobClient } from '../helpers/job-client.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { exited, workerProcesses } from '../helpers/worker-process.js';
import { type CorpusMessage, contents, makeMessage, seed, snapshot } from './corpus.js';
import { startSyncWorld, type SyncWorld, writeSyncConfig } from './world.js';

const FOLDERS = ['INBOX', 'Archiv', 'Projekte', 'Projekte.Überprüfung'];
const PER_FOLDER = 350;
/**
 * Remote bytes per second while workers are killed: the ~2.4 MB of the corpus take some 10 s, and
 * the 35% left after the second kill over 3 s, far more than a kill takes.
 */
const KILLABLE = 256 * 1024;

let w: SyncWorld;
const workers = workerProcesses('error');
beforeAll(async () => {
  w = await startSyncWorld();
});
afterAll(async () => {
  workers.killAll();
  await w?.stop();
});

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
  const proxy = await TcpProxy.start(w.remote.imapsPort!, { downBytesPerSecond: KILLABLE });
  const file = writeSyncConfig(
    w,
    [{ id: 'crash', localUser: local.user, remoteUser: remote.user, password: remote.password }],
    ['imapsync: { parallelFolders: 2 }'],
    undefined,
    { remote: proxy.port },
  );
  const client = await openJobClient(w.redis.url, file, imapsyncJob);
  try {
    const { jobId } = await client.enqueue({ task: 'crash' });
    const total = messages.length;
    for (const killAt of [
      total * 0.15 + Math.random() * total * 0.15,
      total * 0.45 + Math.random() * total * 0.2,
    ]) {
      const victim = workers.start(file);
      await expect
        .poll(() => w.local.storedMessages(local.user), { timeout: 90_000, interval: 20 })
        .toBeGreaterThanOrEqual(Math.floor(killAt));
      victim.kill('SIGKILL');
      await exited(victim);
    }
    expect(await localCount(local.user)).toBeLessThan(total);
    proxy.throttle({});
    const survivor = workers.start(file);
    const job = (await client.queue.getJob(jobId))!;
    const result = (await job.waitUntilFinished(client.events, 180_000)) as Record<string, unknown>;
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
    await client.close();
    await proxy.close();
  }
}, 300_000);
