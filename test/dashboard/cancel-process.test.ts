/**
 * Cancel across processes: the sync runs in a real `mailjobs worker` process, the dashboard's
 * Cancel route runs here; the request travels over Redis pub/sub, the worker process aborts
 * the job, which fails "cancelled by alice" without a retry, and the worker keeps serving.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { syncPage } from '../../src/dashboard/pages/sync.js';
import { registry } from '../../src/jobs/registry.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { silentLog } from '../helpers/runtime.js';
import { makeMessage, seed } from '../imapsync/corpus.js';
import { startSyncWorld, type SyncWorld, writeSyncConfig } from '../imapsync/world.js';
import { call } from './routes.js';

let w: SyncWorld;
let rt: Runtime;
let child: ChildProcess | undefined;

beforeAll(async () => {
  w = await startSyncWorld();
}, 120_000);
afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await rt?.close();
  await w?.stop();
});

type View = { state: string; failedReason?: string; attemptsMade: number; progress: Record<string, number> };

it('a Cancel from the dashboard stops the sync in another worker process', async () => {
  const remote = await w.remote.addUser('r-xproc');
  await w.local.addUser('l-xproc');
  const body = 'Line of text to give the message some weight.\r\n'.repeat(40);
  await seed(
    w.remote,
    remote.user,
    ['INBOX', 'Archiv', 'Projekte'].flatMap((folder, f) =>
      Array.from({ length: 500 }, (_, i) => ({
        folder,
        raw: makeMessage(`x-${f}-${i}`, { body }),
        flags: [],
        internalDate: new Date(Date.UTC(2022, 0, 1) + i * 60_000),
      })),
    ),
  );
  const file = writeSyncConfig(
    w,
    [{ id: 'xproc', localUser: 'l-xproc', remoteUser: remote.user, password: remote.password }],
    ['imapsync: { parallelFolders: 1 }'],
  );
  rt = await openRuntime({ configFlag: file, jobs: registry, log: silentLog, startPrivateRedis: false });
  child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'worker', '--config', file], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, MAILJOBS_LOG_LEVEL: 'error' },
  });
  // The worker process subscribes at start: wait until the channel has a listener.
  const channel = `{${rt.config.redis.prefix}}:state:cancel`;
  await expect
    .poll(async () => ((await rt.redis.pubsub('NUMSUB', channel)) as [string, number])[1], {
      timeout: 60_000,
      interval: 200,
    })
    .toBe(1);

  const { jobId } = await call<{ jobId: string }>(rt, syncPage, 'POST', '/sync/tasks/xproc/start');
  const view = () => call<View>(rt, syncPage, 'GET', `/sync/jobs/${jobId}`);
  await expect
    .poll(async () => (await view()).progress?.copied ?? 0, { timeout: 60_000, interval: 50 })
    .toBeGreaterThan(0);
  expect(await call(rt, syncPage, 'POST', `/sync/jobs/${jobId}/cancel`)).toEqual({
    status: 'cancelling',
    jobId,
  });
  await expect.poll(async () => (await view()).state, { timeout: 60_000, interval: 100 }).toBe('failed');
  expect(await view()).toMatchObject({ failedReason: 'cancelled by alice', attemptsMade: 1 });
  expect(child.exitCode).toBeNull(); // the worker goes on serving

  // The same worker process takes the next run, which finishes from the saved state.
  const again = await call<{ jobId: string }>(rt, syncPage, 'POST', '/sync/tasks/xproc/start');
  await expect
    .poll(async () => (await call<View>(rt, syncPage, 'GET', `/sync/jobs/${again.jobId}`)).state, {
      timeout: 120_000,
      interval: 200,
    })
    .toBe('completed');
  child.kill('SIGTERM');
}, 240_000);
