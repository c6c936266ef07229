/**
 * A page whose data cannot be read says why, not "internal error": the Queue page's listing on
 * a host where postqueue is not where postfix.commandDirectory says answers 503 with that reason.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import {
  VIEWER,
  dashboardConfigLine,
  httpLogin,
  startTestDashboard,
  type TestDashboard,
} from '../helpers/dashboard.js';
import { freshPrefix, writeConfig } from '../helpers/runtime.js';

let redis: RedisFixture;
let dash: TestDashboard;
const noPostfix = mkdtempSync(join(tmpdir(), 'mailjobs-no-postfix-'));

beforeAll(async () => {
  redis = await startRedis();
  const extra = `${await dashboardConfigLine()}\npostfix: { commandDirectory: ${noPostfix} }\n`;
  dash = await startTestDashboard(writeConfig(redis.url, freshPrefix(), extra));
});
afterAll(async () => {
  await dash?.close();
  await redis?.stop();
});

it('the Queue listing without postqueue answers 503 with the reason the page shows', async () => {
  const viewer = await httpLogin(dash.url, VIEWER);
  const res = await viewer.call('GET', '/api/queue/messages');
  expect(res.status).toBe(503);
  expect(await res.json()).toEqual({ error: `${noPostfix}/postqueue not found (postfix.commandDirectory)` });
});
