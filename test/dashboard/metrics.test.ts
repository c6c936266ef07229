/**
 * Metrics and health, over HTTP against a real dashboard, real workers and a private Redis:
 * who may read /metrics, what it shows after real runs (queue states, per-target failures in
 * a row, the run histogram, mail moved), that it parses as Prometheus text, and when /readyz
 * says ready. The dashboard reaches Redis through a TCP proxy, so the test can take Redis
 * away from it alone while the workers keep theirs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reloadConfig } from '../../src/cli/serve.js';
import { loadConfig } from '../../src/config/load.js';
import { startDashboard, type DashboardServer } from '../../src/dashboard/server.js';
import { queueSeries } from '../../src/jobs/queue-monitor/index.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import type { WorkerSet } from '../../src/worker/workers.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { ADMIN, VIEWER, dashboardConfigLine, httpLogin } from '../helpers/dashboard.js';
import { parsePrometheus, valueOf } from '../helpers/prometheus.js';
import { freshPrefix, openEvents, silentLog, startTestWorkers, writeConfig } from '../helpers/runtime.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { echoJob } from '../helpers/test-jobs.js';

const TOKEN = 'metrics-token-0123456789abcdef';

/** The echo job, reporting its steps as delivered messages of 100 bytes each. */
const deliveringEcho = {
  ...echoJob,
  moved: (r: { steps: number }) => [
    { action: 'delivered' as const, messages: r.steps, bytes: 100 * r.steps },
  ],
};
const jobs = [deliveringEcho];

let redis: RedisFixture;
let proxy: TcpProxy;
let rt: Runtime;
let dash: DashboardServer;
let workers: WorkerSet | undefined;
let events: QueueEvents;
let prefix: string;
let configFile: string;
let tokenFile: string;

beforeAll(async () => {
  redis = await startRedis();
  proxy = await TcpProxy.start(redis.port);
  prefix = freshPrefix();
  const dir = mkdtempSync(join(tmpdir(), 'mailjobs-metrics-'));
  tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const extra = `${await dashboardConfigLine()}\nmetrics: { tokenFile: ${tokenFile} }\n`;
  configFile = writeConfig(redis.url, prefix, extra);
  const dashConfig = writeConfig(`redis://127.0.0.1:${proxy.port}`, prefix, extra);
  rt = await openRuntime({ configFlag: dashConfig, jobs, log: silentLog, startPrivateRedis: false });
  dash = await startDashboard(rt, { port: 0, bind: '127.0.0.1', metricsPort: 0 });
  events = await openEvents('echo', redis.url, prefix);
});

afterAll(async () => {
  await workers?.close();
  await events?.close();
  await dash?.close();
  await rt?.close();
  await proxy?.close();
  await redis?.stop();
});

const get = (path: string, headers: Record<string, string> = {}, base = dash.url) =>
  fetch(`${base}${path}`, { headers, redirect: 'manual' });
const bearer = { authorization: `Bearer ${TOKEN}` };

async function scrape() {
  const res = await get('/metrics', bearer);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  if (process.env.SHOW) console.log(text);
  return parsePrometheus(text);
}

async function runEcho(payload: Record<string, unknown>) {
  const job = await rt.queues.get('echo')!.add('echo', payload, { attempts: 1 });
  return job.waitUntilFinished(events, 20_000).catch((err: Error) => err);
}

describe('without workers', () => {
  it('/healthz answers ok and /readyz not ready, without login, saying nothing else', async () => {
    const health = await get('/healthz');
    expect([health.status, await health.text()]).toEqual([200, 'ok\n']);
    const ready = await get('/readyz');
    expect([ready.status, await ready.text()]).toEqual([503, 'not ready\n']);
    expect(ready.headers.get('set-cookie')).toBeNull();
  });

  it('/metrics refuses a request without a session or the token (401), and a wrong token', async () => {
    for (const headers of [
      {} as Record<string, string>,
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: `Basic ${TOKEN}` },
    ]) {
      const res = await get('/metrics', headers);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(await res.text()).not.toContain('bullmq_job_count');
    }
  });

  it('/metrics answers the bearer token and a login session, admin or viewer', async () => {
    expect(valueOf(await scrape(), 'mailjobs_queue_workers', { queue: 'echo' })).toBe(0);
    for (const who of [ADMIN, VIEWER]) {
      const s = await httpLogin(dash.url, who);
      const res = await get('/metrics', { cookie: s.cookie });
      expect(res.status).toBe(200);
      expect(
        valueOf(parsePrometheus(await res.text()), 'bullmq_job_count', { queue: 'echo', state: 'active' }),
      ).toBe(0);
    }
  });

  it('a new token in the file counts after SIGHUP, and the old one no longer', async () => {
    const next = 'rotated-token-0123456789abcdef';
    writeFileSync(tokenFile, `${next}\n`);
    try {
      expect(reloadConfig(rt, silentLog)).toBe(true);
      expect((await get('/metrics', bearer)).status).toBe(401);
      expect((await get('/metrics', { authorization: `Bearer ${next}` })).status).toBe(200);
    } finally {
      writeFileSync(tokenFile, `${TOKEN}\n`);
      reloadConfig(rt, silentLog);
    }
    expect((await get('/metrics', bearer)).status).toBe(200);
  });

  it('the metrics port serves /metrics by token only, and the probes', async () => {
    const base = dash.metricsUrl!;
    expect((await get('/metrics', {}, base)).status).toBe(401);
    const res = await get('/metrics', bearer, base);
    expect(res.status).toBe(200);
    expect(valueOf(parsePrometheus(await res.text()), 'mailjobs_queue_workers', { queue: 'echo' })).toBe(0);
    expect((await get('/healthz', {}, base)).status).toBe(200);
    expect((await get('/readyz', {}, base)).status).toBe(503);
    expect((await get('/queues/', bearer, base)).status).toBe(404);
  });
});

it("the parser refuses what Prometheus refuses: BullMQ's own export of two queues on one page", async () => {
  const queue = rt.queues.get('echo')!;
  const one = `${await queue.exportPrometheusMetrics()}\n`;
  expect(parsePrometheus(one).length).toBeGreaterThan(0);
  expect(() => parsePrometheus(`${one}${one}`)).toThrow(/second (HELP|TYPE)|is split/);
});

describe('with workers', () => {
  beforeAll(() => {
    const config = loadConfig(configFile);
    workers = startTestWorkers({ config, redisSettings: { url: redis.url }, redis: rt.redis }, jobs);
  });

  it('/readyz says ready once a worker listens on every queue', async () => {
    await expect.poll(async () => (await get('/readyz')).status, { timeout: 10_000 }).toBe(200);
    expect(await (await get('/readyz')).text()).toBe('ready\n');
  });

  it('shows job states, failures in a row per target, the run histogram and mail moved', async () => {
    expect(await runEcho({ target: 'ok-1', steps: 3 })).toMatchObject({ steps: 3 });
    for (let i = 0; i < 2; i++)
      expect(await runEcho({ target: 'bad-1', fail: 'permanent' })).toBeInstanceOf(Error);
    const before = Date.now();
    const m = await scrape();
    expect(valueOf(m, 'bullmq_job_count', { queue: 'echo', state: 'completed' })).toBe(1);
    expect(valueOf(m, 'bullmq_job_count', { queue: 'echo', state: 'failed' })).toBe(2);
    expect(valueOf(m, 'mailjobs_queue_workers', { queue: 'echo' })).toBe(1);
    expect(valueOf(m, 'mailjobs_target_consecutive_failures', { job: 'echo', target: 'bad-1' })).toBe(2);
    expect(valueOf(m, 'mailjobs_target_consecutive_failures', { job: 'echo', target: 'ok-1' })).toBe(0);
    expect(valueOf(m, 'mailjobs_target_last_success_timestamp_seconds', { target: 'bad-1' })).toBeUndefined();
    const lastOk = valueOf(m, 'mailjobs_target_last_success_timestamp_seconds', { target: 'ok-1' })!;
    expect(lastOk * 1000).toBeGreaterThan(before - 60_000);
    expect(lastOk * 1000).toBeLessThanOrEqual(before);
    const runs = (outcome: string) => ({ job: 'echo', outcome });
    expect(valueOf(m, 'mailjobs_job_duration_seconds_count', runs('success'))).toBe(1);
    expect(valueOf(m, 'mailjobs_job_duration_seconds_count', runs('failure'))).toBe(2);
    expect(valueOf(m, 'mailjobs_job_duration_seconds_bucket', { ...runs('failure'), le: '+Inf' })).toBe(2);
    // Buckets are cumulative: never fewer runs under a larger bound.
    const buckets = m.filter(
      (s) => s.name === 'mailjobs_job_duration_seconds_bucket' && s.labels.outcome === 'failure',
    );
    expect(buckets.map((b) => b.value)).toEqual([...buckets.map((b) => b.value)].sort((a, b) => a - b));
    expect(valueOf(m, 'mailjobs_messages_total', { job: 'echo', action: 'delivered' })).toBe(3);
    expect(valueOf(m, 'mailjobs_message_bytes_total', { job: 'echo', action: 'delivered' })).toBe(300);
    // No clamd in this test: the signature age is left out, and clamd reported down.
    expect(valueOf(m, 'mailjobs_clamd_up')).toBe(0);
    expect(valueOf(m, 'mailjobs_clamav_signatures_age_seconds')).toBeUndefined();

    // A success resets the failures in a row.
    await runEcho({ target: 'bad-1' });
    const after = await scrape();
    expect(valueOf(after, 'mailjobs_target_consecutive_failures', { job: 'echo', target: 'bad-1' })).toBe(0);
    expect(valueOf(after, 'mailjobs_job_duration_seconds_count', runs('success'))).toBe(2);
  });

  it("shows the Postfix queue's last sample", async () => {
    const sample = {
      t: Date.now(),
      queues: {
        maildrop: { count: 0, bytes: 0 },
        incoming: { count: 1, bytes: 500 },
        active: { count: 2, bytes: 2000 },
        deferred: { count: 7, bytes: 7000 },
        hold: { count: 0, bytes: 0 },
      },
    };
    await queueSeries(rt).record(sample);
    const m = await scrape();
    expect(valueOf(m, 'mailjobs_postfix_queue_messages', { queue: 'deferred' })).toBe(7);
    expect(valueOf(m, 'mailjobs_postfix_queue_bytes', { queue: 'active' })).toBe(2000);
    expect(valueOf(m, 'mailjobs_postfix_queue_sampled_timestamp_seconds')).toBe(sample.t / 1000);
  });

  it('/readyz says not ready once Redis does not answer the dashboard', async () => {
    await proxy.close();
    await expect.poll(async () => (await get('/readyz')).status, { timeout: 15_000 }).toBe(503);
    expect((await get('/healthz')).status).toBe(200);
  });
});
