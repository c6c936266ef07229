/**
 * "Fetch now" over a target lock, through the dashboard's HTTP API: the lock of a run killed
 * on this host does not make the button answer "already running"; a live holder is named.
 * No worker runs here, so a queued fetch stays queued.
 */
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { lockValue } from '../../src/core/target-lock.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import {
  ADMIN,
  dashboardConfigLine,
  httpLogin,
  startTestDashboard,
  type TestDashboard,
} from '../helpers/dashboard.js';
import { freshPrefix, writeConfig } from '../helpers/runtime.js';

let redis: RedisFixture;
let dash: TestDashboard;

beforeAll(async () => {
  redis = await startRedis();
  const connector = (id: string) =>
    `  - { id: ${id}, protocol: pop3, host: 127.0.0.1, port: 1, username: u, password: p, deliverTo: john }`;
  const extra = [
    await dashboardConfigLine(),
    'connectors:',
    connector('gone@x.test'),
    connector('live@x.test'),
    '',
  ];
  dash = await startTestDashboard(writeConfig(redis.url, freshPrefix(), extra.join('\n')));
});

afterAll(async () => {
  await dash?.close();
  await redis?.stop();
});

/** Sets the getmail lock of `account` as process `pid` of this host writes it. */
async function plantLock(account: string, jobId: string, pid: number) {
  await dash.rt.redis.set(dash.rt.key('lock', 'getmail', account), lockValue(jobId, { pid }), 'PX', 600_000);
}

it('"Fetch now" queues at once over a killed run\'s lock, and names a live holder', async () => {
  const s = await httpLogin(dash.url, ADMIN);
  const fetchNow = async (account: string) =>
    (await s.call('POST', '/api/connectors/fetch', { account }, { 'x-csrf-token': s.csrf })).json();

  await plantLock('gone@x.test', 'run-killed', spawnSync(process.execPath, ['-e', '']).pid);
  expect(await fetchNow('gone@x.test')).toMatchObject({ account: 'gone@x.test', status: 'queued' });
  expect(await dash.rt.redis.exists(dash.rt.key('lock', 'getmail', 'gone@x.test'))).toBe(0);

  await plantLock('live@x.test', 'run-live', process.pid);
  expect(await fetchNow('live@x.test')).toMatchObject({
    account: 'live@x.test',
    status: 'running',
    jobId: 'run-live',
    holder: { jobId: 'run-live', host: hostname(), pid: process.pid, expiresAt: expect.any(Number) },
  });
  expect(await dash.rt.queues.get('getmail')!.getJobCounts('wait')).toEqual({ wait: 1 });
});
