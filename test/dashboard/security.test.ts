/**
 * The dashboard's gate over real HTTP: nothing without a session, CSRF on every mutation, the
 * viewer refused server-side, (login limits: hardening.test.ts), security headers, logout, SIGHUP'd users.
 * No worker runs here, so "Fetch now" stays queued.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import {
  ADMIN,
  VIEWER,
  dashboardConfigLine,
  httpLogin,
  postLogin,
  startTestDashboard,
  type TestDashboard,
} from '../helpers/dashboard.js';
import { freshPrefix, writeConfig } from '../helpers/runtime.js';

let redis: RedisFixture;
let dash: TestDashboard;
let configFile: string;
let configText: string;

beforeAll(async () => {
  redis = await startRedis();
  const extra = [
    await dashboardConfigLine('loginLimits: { perAddress: 50, windowMinutes: 5 }'),
    'connectors:',
    '  - { id: remote@example.org, protocol: pop3, host: 127.0.0.1, port: 1, username: u, password: p, deliverTo: john }',
    '',
  ].join('\n');
  configFile = writeConfig(redis.url, freshPrefix(), extra);
  configText = (await import('node:fs')).readFileSync(configFile, 'utf8');
  dash = await startTestDashboard(configFile);
});

afterAll(async () => {
  await dash?.close();
  await redis?.stop();
});

describe('without a session', () => {
  it('pages redirect to /login; the API, Bull Board and its API are refused', async () => {
    for (const path of ['/connectors', '/', '/queues', '/queues/', '/nonexistent']) {
      const res = await fetch(`${dash.url}${path}`, { redirect: 'manual' });
      expect([path, res.status, res.headers.get('location')]).toEqual([path, 302, '/login']);
    }
    for (const path of ['/api/connectors', '/queues/api/queues']) {
      const res = await fetch(`${dash.url}${path}`);
      expect([path, res.status]).toEqual([path, 401]);
      expect(await res.json()).toEqual({ error: 'login required' });
    }
    const post = await fetch(`${dash.url}/api/connectors/fetch-all`, { method: 'POST' });
    expect(post.status).toBe(401);
    const bullPut = await fetch(`${dash.url}/queues/api/queues/getmail/pause`, { method: 'PUT' });
    expect(bullPut.status).toBe(401);
  });

  it('a forged session cookie is no session', async () => {
    const res = await fetch(`${dash.url}/api/connectors`, { headers: { cookie: 'mailjobs_session=forged' } });
    expect(res.status).toBe(401);
  });

  it('the login page and the assets answer, with the security headers', async () => {
    const res = await fetch(`${dash.url}/login`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const setCookie = res.headers.getSetCookie().join('\n');
    expect(setCookie).toMatch(/mailjobs_login_csrf=[^;]+;.*HttpOnly; SameSite=Strict/);
    const css = await fetch(`${dash.url}/assets/dashboard.css`);
    expect([css.status, css.headers.get('content-type')]).toEqual([200, 'text/css; charset=utf-8']);
    expect((await fetch(`${dash.url}/assets/..%2Fserver.ts`)).status).toBe(404);
  });
});

describe('login', () => {
  it('refuses a wrong password and a login form without its CSRF token; sets a strict HttpOnly session cookie', async () => {
    const wrong = await postLogin(dash.url, { name: ADMIN.name, password: 'not it' });
    expect(wrong.res.status).toBe(401);
    expect(await wrong.res.text()).toContain('Wrong user name or password.');
    expect(wrong.cookies.mailjobs_session).toBeUndefined();

    const noToken = await postLogin(dash.url, ADMIN, { omitCsrf: true });
    expect(noToken.res.status).toBe(403);
    expect(noToken.cookies.mailjobs_session).toBeUndefined();

    // The wrong password holds the name for a second (hardening.test.ts): wait it out.
    let ok = await postLogin(dash.url, ADMIN);
    await expect
      .poll(async () => (ok = await postLogin(dash.url, ADMIN)).res.status, { interval: 250 })
      .toBe(303);
    const cookie = ok.res.headers.getSetCookie().find((c) => c.startsWith('mailjobs_session='))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toMatch(/Secure/); // plain HTTP on 127.0.0.1: no TLS, so not Secure (auto)
  });
});

describe('with a session', () => {
  it('an API POST needs the CSRF token in X-CSRF-Token', async () => {
    const s = await httpLogin(dash.url, ADMIN);
    const none = await s.call('POST', '/api/connectors/fetch', { account: 'remote@example.org' });
    expect(none.status).toBe(403);
    expect(((await none.json()) as { error: string }).error).toMatch(/CSRF/);
    const wrong = await s.call(
      'POST',
      '/api/connectors/fetch',
      { account: 'remote@example.org' },
      { 'x-csrf-token': 'x'.repeat(43) },
    );
    expect(wrong.status).toBe(403);
    expect(await dash.rt.queues.get('getmail')!.getJobCounts('wait')).toEqual({ wait: 0 });

    const ok = await s.call(
      'POST',
      '/api/connectors/fetch',
      { account: 'remote@example.org' },
      { 'x-csrf-token': s.csrf },
    );
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: 'queued' });
    const again = await s.call(
      'POST',
      '/api/connectors/fetch',
      { account: 'remote@example.org' },
      { 'x-csrf-token': s.csrf },
    );
    expect(await again.json()).toMatchObject({ status: 'already-queued' });
    const unknown = await s.call(
      'POST',
      '/api/connectors/fetch',
      { account: 'nobody' },
      { 'x-csrf-token': s.csrf },
    );
    expect(unknown.status).toBe(404);
    const invalid = await s.call(
      'POST',
      '/api/connectors/fetch',
      { acount: 'x' },
      { 'x-csrf-token': s.csrf },
    );
    expect(invalid.status).toBe(400);
  });

  it('the viewer sees everything and is refused every trigger (403 from the server)', async () => {
    const s = await httpLogin(dash.url, VIEWER);
    const list = await s.call('GET', '/api/connectors');
    expect(list.status).toBe(200);
    expect(
      ((await list.json()) as { connectors: { id: string }[] }).connectors.map((c: { id: string }) => c.id),
    ).toEqual(['remote@example.org']);

    const csrf = { 'x-csrf-token': s.csrf };
    const fetchNow = await s.call('POST', '/api/connectors/fetch', { account: 'remote@example.org' }, csrf);
    expect(fetchNow.status).toBe(403);
    expect(((await fetchNow.json()) as { error: string }).error).toMatch(/read-only/);
    expect((await s.call('POST', '/api/connectors/fetch-all', {}, csrf)).status).toBe(403);

    // Bull Board: reading is fine, its mutating calls are refused even same-origin.
    expect((await s.call('GET', '/queues/api/queues')).status).toBe(200);
    const pause = await s.call('PUT', '/queues/api/queues/getmail/pause', undefined, {
      'sec-fetch-site': 'same-origin',
    });
    expect(pause.status).toBe(403);
    expect(await dash.rt.queues.get('getmail')!.isPaused()).toBe(false);
  });

  it("Bull Board's mutating calls need a same-origin request (it cannot send our CSRF header)", async () => {
    const s = await httpLogin(dash.url, ADMIN);
    const queue = dash.rt.queues.get('bayes-stats')!;
    const cross = await s.call('PUT', '/queues/api/queues/bayes-stats/pause', undefined, {
      'sec-fetch-site': 'cross-site',
    });
    expect(cross.status).toBe(403);
    const noOrigin = await s.call('PUT', '/queues/api/queues/bayes-stats/pause');
    expect(noOrigin.status).toBe(403);
    const evil = await s.call('PUT', '/queues/api/queues/bayes-stats/pause', undefined, {
      origin: 'http://evil.example',
    });
    expect(evil.status).toBe(403);
    expect(await queue.isPaused()).toBe(false);
    const same = await s.call('PUT', '/queues/api/queues/bayes-stats/pause', undefined, { origin: dash.url });
    expect(same.status).toBe(200);
    expect(await queue.isPaused()).toBe(true);
    await queue.resume();
  });

  it('logout (POST with the CSRF field) ends the session', async () => {
    const s = await httpLogin(dash.url, ADMIN);
    const noToken = await s.call('POST', '/logout');
    expect(noToken.status).toBe(403);
    const out = await fetch(`${dash.url}/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: s.cookie },
      body: new URLSearchParams({ _csrf: s.csrf }),
    });
    expect([out.status, out.headers.get('location')]).toEqual([303, '/login']);
    expect((await s.call('GET', '/api/connectors')).status).toBe(401);
  });

  it('a user removed from the config (SIGHUP reload) loses the session at once', async () => {
    const s = await httpLogin(dash.url, VIEWER);
    expect((await s.call('GET', '/api/connectors')).status).toBe(200);
    writeFileSync(configFile, configText.replace(/, \{ name: viewer[^}]+\}/, ''));
    dash.rt.config = loadConfig(configFile, {});
    expect(dash.rt.config.dashboard.users.map((u) => u.name)).toEqual(['admin']);
    expect((await s.call('GET', '/api/connectors')).status).toBe(401);
    writeFileSync(configFile, configText);
    dash.rt.config = loadConfig(configFile, {});
  });

  it('keeps secrets out of answers: no hash, session id or password in the API or pages', async () => {
    const s = await httpLogin(dash.url, ADMIN);
    const api = await (await s.call('GET', '/api/connectors')).text();
    const page = await (await s.call('GET', '/connectors')).text();
    const hash = dash.rt.config.dashboard.users[0]!.passwordHash.reveal();
    for (const text of [api, page]) {
      expect(text).not.toContain(hash.split('$')[5]);
      expect(text).not.toContain(s.cookie.split('=')[1]);
      expect(text).not.toContain(ADMIN.password);
    }
  });
});
