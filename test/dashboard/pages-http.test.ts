/**
 * The Synchronization, Filter and Queue pages through the real server (login, CSRF, roles),
 * with only Redis and no worker: the viewer reads every page and its API but every trigger is
 * refused (403) and queues nothing; the admin's triggers queue jobs; query strings and bodies
 * are validated by the routes' schemas (400 naming the field); the ad-hoc password never
 * comes back. What the jobs then do is in the *-routes and *-page tests.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import {
  ADMIN,
  VIEWER,
  dashboardConfigLine,
  httpLogin,
  startTestDashboard,
  type HttpSession,
  type TestDashboard,
} from '../helpers/dashboard.js';
import { freshPrefix, writeConfig } from '../helpers/runtime.js';

let redis: RedisFixture;
let dash: TestDashboard;
let admin: HttpSession;
let viewer: HttpSession;

beforeAll(async () => {
  redis = await startRedis();
  const dir = mkdtempSync(join(tmpdir(), 'mailjobs-pages-http-'));
  writeFileSync(join(dir, 'remote.password'), 'remote secret', { mode: 0o600 });
  const extra = [
    await dashboardConfigLine(),
    `secrets: { keyFile: ${join(dir, 'secrets.key')} }`,
    'sync:',
    '  - id: t1',
    '    localUser: john',
    `    remote: { host: 127.0.0.1, port: 1, security: none, username: jdoe, passwordFile: ${join(dir, 'remote.password')} }`,
    `clamd: { socket: ${join(dir, 'no-clamd.sock')} }`,
    '',
  ].join('\n');
  dash = await startTestDashboard(writeConfig(redis.url, freshPrefix(), extra));
  [admin, viewer] = await Promise.all([httpLogin(dash.url, ADMIN), httpLogin(dash.url, VIEWER)]);
});

afterAll(async () => {
  await dash?.close();
  await redis?.stop();
});

const post = (s: HttpSession, path: string, body: unknown = {}) =>
  s.call('POST', path, body, { 'x-csrf-token': s.csrf });
const counts = async (queue: string) => {
  const c = await dash.rt.queues.get(queue)!.getJobCounts('wait', 'active', 'delayed');
  return c.wait! + c.active! + c.delayed!;
};

describe('the pages over HTTP', () => {
  it('are refused without a session', async () => {
    for (const path of ['/sync', '/filter', '/queue']) {
      const res = await fetch(`${dash.url}${path}`, { redirect: 'manual' });
      expect([path, res.status, res.headers.get('location')]).toEqual([path, 302, '/login']);
    }
    for (const path of ['/api/sync/tasks', '/api/filter/overview', '/api/queue/series']) {
      expect([path, (await fetch(`${dash.url}${path}`)).status]).toEqual([path, 401]);
    }
  });

  it('show the viewer everything, with the triggers disabled', async () => {
    for (const [path, title] of [
      ['/sync', 'Synchronization'],
      ['/filter', 'Filter'],
      ['/queue', 'Mail queue'],
    ] as const) {
      const res = await viewer.call('GET', path);
      expect(res.status).toBe(200);
      const page = await res.text();
      expect(page).toContain(`<h1>${title}</h1>`);
      expect(page).toMatch(/<script type="module" src="\/assets\/(sync|filter|queue)\.js">/);
      expect(page).not.toMatch(/data-requires-admin(?! disabled)/);
    }
    const sync = await (await viewer.call('GET', '/sync')).text();
    expect(sync).toContain('<tr data-task="t1"');
    const tasks = (await (await viewer.call('GET', '/api/sync/tasks')).json()) as {
      tasks: { id: string; summary: string }[];
    };
    expect(tasks.tasks).toMatchObject([{ id: 't1', summary: expect.stringContaining('never run') }]);
    const filter = (await (await viewer.call('GET', '/api/filter/overview')).json()) as {
      antivirus: { row: { severity: string; summary: string } };
    };
    expect(filter.antivirus.row).toMatchObject({
      severity: 'critical',
      summary: expect.stringContaining('clamd unreachable'),
    });
    for (const name of ['sync.js', 'filter.js', 'queue.js', 'admin-pages.css']) {
      expect([name, (await fetch(`${dash.url}/assets/${name}`)).status]).toEqual([name, 200]);
    }
  });

  it("refuse every viewer's trigger server-side, and queue nothing", async () => {
    const triggers: [string, unknown][] = [
      ['/api/sync/tasks/t1/start', {}],
      ['/api/sync/adhoc', { host: 'h', username: 'u', password: 'p', localUser: 'john' }],
      ['/api/filter/freshclam', {}],
      ['/api/filter/bayes-stats', {}],
      ['/api/queue/actions', { action: 'delete', queueId: 'ALL' }],
    ];
    for (const [path, body] of triggers) {
      const res = await post(viewer, path, body);
      expect([path, res.status]).toEqual([path, 403]);
    }
    for (const q of ['imapsync', 'freshclam', 'bayes-stats', 'queue-monitor'])
      expect([q, await counts(q)]).toEqual([q, 0]);
  });

  it("queue the admin's triggers; the ad-hoc password is sealed and never sent back", async () => {
    expect((await admin.call('POST', '/api/sync/tasks/t1/start', {})).status).toBe(403); // no CSRF token
    const start = await post(admin, '/api/sync/tasks/t1/start', { dryRun: true });
    expect(start.status).toBe(200);
    expect(await start.json()).toMatchObject({ status: 'queued', target: 't1' });
    expect(await (await post(admin, '/api/sync/tasks/t1/start')).json()).toMatchObject({
      status: 'already-queued',
    });

    const adhoc = await post(admin, '/api/sync/adhoc', {
      host: '127.0.0.1',
      port: 993,
      username: 'jdoe',
      password: 'plain secret 42',
      localUser: 'john',
      testLogin: true,
    });
    const text = await adhoc.text();
    expect(adhoc.status).toBe(200);
    expect(text).not.toContain('plain secret 42');
    const { jobId } = JSON.parse(text) as { jobId: string };
    const data = JSON.stringify((await dash.rt.queues.get('imapsync')!.getJob(jobId))!.data);
    expect(data).not.toContain('plain secret 42');
    expect(data).toMatch(/"password":"mjs2\.[A-Za-z0-9_-]{40,}"/);
    const view = await (await admin.call('GET', `/api/sync/jobs/${jobId}`)).text();
    expect(view).not.toContain('mjs2.');

    expect((await post(admin, '/api/filter/freshclam')).status).toBe(200);
    expect(await counts('freshclam')).toBe(1);
    expect(await (await post(admin, '/api/queue/actions', { action: 'resend' })).json()).toMatchObject({
      status: 'queued',
      target: 'resend:ALL',
    });
  });

  it('validate query strings and bodies with the routes’ schemas', async () => {
    const series = await viewer.call('GET', '/api/queue/series?minutes=15');
    expect(series.status).toBe(200);
    expect(await series.json()).toEqual({ minutes: 15, points: [], lastSampleAt: null });
    const bad = await viewer.call('GET', '/api/queue/series?minutes=lots');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('minutes');
    for (const body of [{ action: 'sample' }, { action: 'delete', queueId: 'x; rm -rf /' }]) {
      const res = await post(admin, '/api/queue/actions', body);
      expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), 400]);
    }
    const both = await post(admin, '/api/sync/adhoc', {
      host: 'h',
      username: 'u',
      password: 'p',
      admin: { user: 'a', password: 'b' },
      localUser: 'john',
    });
    expect(both.status).toBe(400);
    expect((await post(admin, '/api/sync/tasks/nope/start')).status).toBe(404);
  });
});
