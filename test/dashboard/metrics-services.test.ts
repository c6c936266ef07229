/**
 * /metrics against the real services its figures come from: the age of the signatures a
 * private clamd runs (asked with VERSION at the scrape), and the Bayes counters a real
 * bayes-stats run read from a private Rspamd (before that run, there is no reading to show).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDashboard, type DashboardServer } from '../../src/dashboard/server.js';
import { bayesStatsJob } from '../../src/jobs/bayes-stats/index.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import type { WorkerSet } from '../../src/worker/workers.js';
import { startClamd, type ClamdFixture } from '../fixtures/clamd.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { startRspamd, type RspamdFixture } from '../fixtures/rspamd.js';
import { parsePrometheus, valueOf } from '../helpers/prometheus.js';
import { freshPrefix, openEvents, silentLog, startTestWorkers, writeConfig } from '../helpers/runtime.js';

const TOKEN = 'metrics-token-services-0123456789';
const jobs = [bayesStatsJob];

let redis: RedisFixture;
let bayesRedis: RedisFixture;
let clamd: ClamdFixture;
let rspamd: RspamdFixture;
let rt: Runtime;
let dash: DashboardServer;
let workers: WorkerSet;
let clamdStartedAt: number;

beforeAll(async () => {
  clamdStartedAt = Date.now();
  [redis, bayesRedis, clamd] = await Promise.all([startRedis(), startRedis(), startClamd()]);
  rspamd = await startRspamd({ redisUrl: bayesRedis.url });
  const token = join(mkdtempSync(join(tmpdir(), 'mailjobs-metrics-')), 'token');
  writeFileSync(token, TOKEN, { mode: 0o600 });
  const extra = [
    `rspamd: { controllerUrl: "${rspamd.controllerUrl}", passwordFile: ${rspamd.passwordFile}, timeoutSeconds: 10 }`,
    `clamd: { socket: ${clamd.socket}, timeoutSeconds: 10 }`,
    `metrics: { tokenFile: ${token} }`,
    '',
  ].join('\n');
  rt = await openRuntime({
    configFlag: writeConfig(redis.url, freshPrefix(), extra),
    jobs,
    log: silentLog,
    startPrivateRedis: false,
  });
  dash = await startDashboard(rt, { port: 0, bind: '127.0.0.1' });
  workers = startTestWorkers(rt, jobs);
}, 120_000);

afterAll(async () => {
  await workers?.close();
  await dash?.close();
  await rt?.close();
  await Promise.all([rspamd?.stop(), clamd?.stop()]);
  await Promise.all([redis?.stop(), bayesRedis?.stop()]);
});

async function scrape() {
  const res = await fetch(`${dash.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  return parsePrometheus(await res.text());
}

it('shows the age of the daily database clamd runs, and that clamd answered', async () => {
  const m = await scrape();
  expect(valueOf(m, 'mailjobs_clamd_up')).toBe(1);
  // The fixture built its daily database when it started.
  const age = valueOf(m, 'mailjobs_clamav_signatures_age_seconds')!;
  expect(age).toBeGreaterThanOrEqual(0);
  expect(age).toBeLessThanOrEqual((Date.now() - clamdStartedAt) / 1000 + 60);
});

it('shows Bayes learned spam and ham once bayes-stats has read them from Rspamd', async () => {
  const before = await scrape();
  expect(valueOf(before, 'mailjobs_bayes_learned', { class: 'spam' })).toBeUndefined();
  expect(valueOf(before, 'mailjobs_bayes_min_learns')).toBeUndefined();

  const events = await openEvents('bayes-stats', redis.url, rt.config.redis.prefix);
  try {
    const job = await rt.queues.get('bayes-stats')!.add('bayes-stats', {});
    expect(await job.waitUntilFinished(events, 30_000)).toMatchObject({ spam: 0, ham: 0, spamNeeded: 200 });
  } finally {
    await events.close();
  }
  const after = await scrape();
  expect(valueOf(after, 'mailjobs_bayes_learned', { class: 'spam' })).toBe(0);
  expect(valueOf(after, 'mailjobs_bayes_learned', { class: 'ham' })).toBe(0);
  expect(valueOf(after, 'mailjobs_bayes_min_learns')).toBe(200);
  expect(
    valueOf(after, 'mailjobs_target_consecutive_failures', { job: 'bayes-stats', target: 'rspamd' }),
  ).toBe(0);
  expect(
    valueOf(after, 'mailjobs_job_duration_seconds_count', { job: 'bayes-stats', outcome: 'success' }),
  ).toBe(1);
});
