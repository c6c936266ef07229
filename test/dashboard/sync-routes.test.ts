/**
 * The Synchronization page's API against a real Redis and two real Dovecots (the imapsync
 * world), with real workers: a configured task started, its progress and report read back;
 * an ad-hoc sync and "Test login" whose passwords are sealed before they reach Redis; a wrong
 * password reported as auth_failed_source; Cancel from the dashboard stops a running sync
 * (failed "cancelled by alice", not retried) and the next Start continues from its state.
 * The remote is reached through a proxy that slows the cancelled run down on purpose.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncPage, type syncOverview } from '../../src/dashboard/pages/sync.js';
import { HttpError } from '../../src/dashboard/types.js';
import { imapsyncJob } from '../../src/jobs/imapsync/index.js';
import { registry } from '../../src/jobs/registry.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import type { WorkerSet } from '../../src/worker/workers.js';
import { silentLog, startTestWorkers } from '../helpers/runtime.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { type CorpusMessage, makeMessage, seed } from '../imapsync/corpus.js';
import { startSyncWorld, type SyncWorld, writeSyncConfig } from '../imapsync/world.js';
import { admin, call, nonGetRoutesAreAdminOnly } from './routes.js';

let w: SyncWorld;
let rt: Runtime;
let workers: WorkerSet;
let proxy: TcpProxy;
const users: Record<string, { user: string; password: string }> = {};

const SMALL = 40;
const BIG_FOLDERS = ['INBOX', 'Archiv', 'Projekte', 'Kunden', 'Reisen', 'Privat'];
const BIG_PER_FOLDER = 30;
/**
 * Remote bytes per second while a run is cancelled: its first progress report comes after a
 * folder (~70 kB), the rest (~350 kB) would need over 20 s more, so the cancel lands mid-run.
 */
const CRAWLING = 16 * 1024;

function messages(tag: string, folders: string[], perFolder: number, body = 'hello\r\n'): CorpusMessage[] {
  return folders.flatMap((folder, f) =>
    Array.from({ length: perFolder }, (_, i) => ({
      folder,
      raw: makeMessage(`${tag}-${f}-${i}`, { body }),
      flags: i % 3 === 0 ? ['\\Seen'] : [],
      internalDate: new Date(Date.UTC(2020, 0, 1) + (f * perFolder + i) * 60_000),
    })),
  );
}

async function localCount(user: string): Promise<number> {
  const r = await w.local.doveadm(['mailbox', 'status', '-u', user, 'messages', '*']);
  return [...r.stdout.matchAll(/messages=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
}

type View = {
  id: string;
  state: string;
  progress: Record<string, number | string>;
  result: Record<string, unknown> | null;
  failedReason?: string;
  attemptsMade: number;
  trail: string[];
};
type Overview = Awaited<ReturnType<typeof syncOverview>>;

const view = (id: string) => call<View>(rt, syncPage, 'GET', `/sync/jobs/${id}`);
const overview = () => call<Overview>(rt, syncPage, 'GET', '/sync/tasks');
async function finished(id: string, timeout = 120_000): Promise<View> {
  await expect
    .poll(async () => (await view(id)).state, { timeout, interval: 200 })
    .toMatch(/^(completed|failed)$/);
  return view(id);
}

beforeAll(async () => {
  w = await startSyncWorld();
  proxy = await TcpProxy.start(w.remote.imapsPort!); // the remote has TLS
  for (const name of ['small', 'big']) {
    users[`r-${name}`] = await w.remote.addUser(`r-${name}`);
    users[`l-${name}`] = await w.local.addUser(`l-${name}`);
  }
  users['l-adhoc'] = await w.local.addUser('l-adhoc');
  await seed(w.remote, 'r-small', messages('small', ['INBOX', 'Archiv'], SMALL / 2));
  const body = 'Line of text to give the message some weight.\r\n'.repeat(40);
  await seed(w.remote, 'r-big', messages('big', BIG_FOLDERS, BIG_PER_FOLDER, body));
  const file = writeSyncConfig(
    w,
    [
      { id: 'small', localUser: 'l-small', remoteUser: 'r-small', password: users['r-small']!.password },
      { id: 'big', localUser: 'l-big', remoteUser: 'r-big', password: users['r-big']!.password },
    ],
    // ad-hoc tasks may reach the fixtures' 127.0.0.1 only when allowed
    ['imapsync: { parallelFolders: 1, adhoc: { allow: [127.0.0.1] } }'],
    undefined,
    { remote: proxy.port },
  );
  rt = await openRuntime({ configFlag: file, jobs: registry, log: silentLog, startPrivateRedis: false });
  workers = startTestWorkers(rt, [imapsyncJob]);
  await workers.cancelListening;
}, 300_000);
afterAll(async () => {
  await workers?.close();
  await rt?.close();
  await proxy?.close();
  await w?.stop();
});

describe('Synchronization API', () => {
  it('declares every trigger admin-only', () => {
    expect(nonGetRoutesAreAdminOnly(syncPage)).toEqual([]);
  });

  it('lists the configured tasks, starts one, shows its report and last result', async () => {
    const before = await overview();
    expect(before.tasks.map((t) => t.id)).toEqual(['small', 'big']);
    expect(before.tasks[0]).toMatchObject({
      remote: 'r-small@127.0.0.1',
      localUser: 'l-small',
      current: null,
      lastJobId: null,
    });
    expect(before.tasks[0]!.summary).toContain('never run');

    const started = await call<{ status: string; jobId: string }>(
      rt,
      syncPage,
      'POST',
      '/sync/tasks/small/start',
    );
    expect(started.status).toBe('queued');
    const done = await finished(started.jobId);
    expect(done.state).toBe('completed');
    expect(done.result).toMatchObject({
      task: 'small',
      outcome: 'ok',
      copied: SMALL,
      messagesOnSource: SMALL,
    });
    expect((done.result!.folders as unknown[]).length).toBe(2);
    expect(done.progress).toMatchObject({ copied: SMALL, total: SMALL, foldersDone: 2, foldersTotal: 2 });
    expect(done.trail.join('\n')).toContain('INBOX → INBOX: 20 on source');

    const after = await overview();
    const small = after.tasks.find((t) => t.id === 'small')!;
    expect(small.lastJobId).toBe(started.jobId);
    expect(small.current).toBeNull();
    expect(small.summary).toMatch(/ok \d+ s ago \(\d\d:\d\d\), 40 copied of 40/);
    expect(await localCount('l-small')).toBe(SMALL);

    await expect(call(rt, syncPage, 'POST', '/sync/tasks/nope/start')).rejects.toMatchObject({ status: 404 });
  });

  it('runs an ad-hoc "Test login" and sync with sealed passwords; a wrong one is auth_failed_source', async () => {
    const form = {
      host: '127.0.0.1',
      port: w.remote.imapsPort,
      security: 'tls',
      verifyCertificate: false,
      username: 'r-small',
      password: users['r-small']!.password,
      localUser: 'l-adhoc',
    };
    const test = await call<{ status: string; jobId: string; target: string }>(
      rt,
      syncPage,
      'POST',
      '/sync/adhoc',
      { ...form, testLogin: true },
    );
    expect(test).toMatchObject({ status: 'queued', target: 'adhoc:l-adhoc<r-small@127.0.0.1' });
    expect(JSON.stringify(test)).not.toContain(form.password);
    // What BullMQ holds for the job: ciphertext only.
    const raw = await rt.redis.hget(`{${rt.config.redis.prefix}}:imapsync:${test.jobId}`, 'data');
    expect(raw).toContain('"password":"mjs2.');
    expect(raw).not.toContain(form.password);
    const tested = await finished(test.jobId);
    expect(tested.result).toMatchObject({ testLogin: true, outcome: 'ok', copied: 0 });
    expect(await localCount('l-adhoc')).toBe(0);

    const run = await call<{ jobId: string }>(rt, syncPage, 'POST', '/sync/adhoc', {
      ...form,
      options: { exclude: ['^Archiv$'] },
    });
    const ran = await finished(run.jobId);
    expect(ran.result).toMatchObject({ outcome: 'ok', copied: SMALL / 2, foldersExcluded: 1 });
    const listed = (await overview()).adhoc;
    expect(listed[0]).toMatchObject({
      jobId: run.jobId,
      remote: 'r-small@127.0.0.1',
      localUser: 'l-adhoc',
      state: 'completed',
      outcome: 'ok',
    });
    expect(JSON.stringify(listed)).not.toContain('mjs2.');

    const wrong = await call<{ jobId: string }>(rt, syncPage, 'POST', '/sync/adhoc', {
      ...form,
      password: 'wrong',
      testLogin: true,
    });
    const refused = await finished(wrong.jobId);
    expect(refused.state).toBe('failed');
    expect(refused.failedReason).toMatch(/^auth_failed_source: /);
    expect(refused.attemptsMade).toBe(1);

    await expect(
      call(rt, syncPage, 'POST', '/sync/adhoc', { ...form, admin: { user: 'vmail', password: 'x' } }),
    ).rejects.toBeInstanceOf(HttpError);
  });

  it('cancels a running sync: failed "cancelled by alice", not retried; the next run continues', async () => {
    const total = BIG_FOLDERS.length * BIG_PER_FOLDER;
    proxy.throttle({ downBytesPerSecond: CRAWLING });
    const started = await call<{ jobId: string }>(rt, syncPage, 'POST', '/sync/tasks/big/start');
    // Live progress, as the page polls it, while the job runs.
    await expect
      .poll(async () => (await overview()).tasks.find((t) => t.id === 'big')!.current?.progress, {
        timeout: 60_000,
        interval: 50,
      })
      .toMatchObject({ copied: expect.any(Number), total });
    const running = (await overview()).tasks.find((t) => t.id === 'big')!.current!;
    expect(running).toMatchObject({ id: started.jobId, state: 'active' });

    const cancel = await call(rt, syncPage, 'POST', `/sync/jobs/${started.jobId}/cancel`, {}, admin);
    expect(cancel).toEqual({ status: 'cancelling', jobId: started.jobId });
    const cancelled = await finished(started.jobId);
    expect(cancelled.state).toBe('failed');
    expect(cancelled.failedReason).toBe('cancelled by alice');
    expect(cancelled.attemptsMade).toBe(1); // attempts: 3, but a cancel is not retried
    proxy.throttle({});
    const copiedBefore = await localCount('l-big');
    expect(copiedBefore).toBeLessThan(total);
    await expect(call(rt, syncPage, 'POST', `/sync/jobs/${started.jobId}/cancel`)).rejects.toMatchObject({
      status: 409,
    });
    // The task's row: stopped, which is neither a failure nor a success.
    const row = (await overview()).tasks.find((t) => t.id === 'big')!;
    expect(row).toMatchObject({
      severity: 'ok',
      run: { lastOutcome: 'cancelled', lastCancelReason: 'cancelled by alice', consecutiveFailures: 0 },
    });
    expect(row.summary).toMatch(/: stopped \d+ s ago \(\d\d:\d\d\) \(cancelled by alice\); before: /);

    const again = await call<{ jobId: string }>(rt, syncPage, 'POST', '/sync/tasks/big/start');
    const done = await finished(again.jobId, 180_000);
    expect(done.result).toMatchObject({
      outcome: 'ok',
      messagesOnSource: total,
      copied: total - copiedBefore,
    });
    expect(await localCount('l-big')).toBe(total);
  }, 300_000);

  it('removes a queued job that has not started', async () => {
    await workers.workers[0]!.pause();
    try {
      const queued = await call<{ jobId: string }>(rt, syncPage, 'POST', '/sync/tasks/small/start');
      expect(await call(rt, syncPage, 'POST', `/sync/jobs/${queued.jobId}/cancel`)).toEqual({
        status: 'removed',
        jobId: queued.jobId,
      });
      await expect(view(queued.jobId)).rejects.toMatchObject({ status: 404 });
      const next = await call<{ status: string }>(rt, syncPage, 'POST', '/sync/tasks/small/start');
      expect(next.status).toBe('queued'); // the removed job no longer holds the task
    } finally {
      workers.workers[0]!.resume();
    }
  });
});
