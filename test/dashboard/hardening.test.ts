/**
 * The dashboard against what a second review tried (issue 12): parallel login guesses, a client
 * writing its own X-Forwarded-For, the admin locked out by someone else's guesses, sessions
 * outliving a password or role change, Bull Board storing unchecked job data, malformed form
 * bodies, DNS rebinding, HSTS. Behind a (simulated) proxy on 127.0.0.1, so each test claims
 * its own client address.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { hashPassword } from '../../src/dashboard/password.js';
import { LoginRateLimiter } from '../../src/dashboard/rate-limit.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import {
  ADMIN,
  VIEWER,
  dashboardConfigLine,
  httpLogin,
  startTestDashboard,
  type Credentials,
  type TestDashboard,
} from '../helpers/dashboard.js';
import { freshPrefix, writeConfig } from '../helpers/runtime.js';

let redis: RedisFixture;
let dash: TestDashboard;
let configFile: string;
let configText: string;

beforeAll(async () => {
  redis = await startRedis();
  const more = [
    'loginLimits: { perAddress: 10, windowMinutes: 5, maxUserDelaySeconds: 4 }',
    'trustProxy: [127.0.0.1]',
    'allowedHosts: [dash.example.org]',
  ].join(', ');
  configFile = writeConfig(redis.url, freshPrefix(), `${await dashboardConfigLine(more)}\n`);
  configText = readFileSync(configFile, 'utf8');
  dash = await startTestDashboard(configFile);
});

afterAll(async () => {
  await dash?.close();
  await redis?.stop();
});

/** The login form's CSRF token and cookie, as the client at `address` behind the proxy. */
async function loginForm(address: string) {
  const page = await fetch(`${dash.url}/login`, { headers: { 'x-forwarded-for': address } });
  const token = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
  return { token, cookie: page.headers.getSetCookie()[0]!.split(';')[0]! };
}

async function login(address: string, who: Credentials, form?: { token: string; cookie: string }) {
  const { token, cookie } = form ?? (await loginForm(address));
  return fetch(`${dash.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'x-forwarded-for': address },
    body: new URLSearchParams({ user: who.name, password: who.password, _csrf: token }),
  });
}

function statuses(list: Response[]) {
  const count: Record<number, number> = {};
  for (const r of list) count[r.status] = (count[r.status] ?? 0) + 1;
  return count;
}

describe('login limits', () => {
  it('50 parallel wrong passwords for one name: one is checked, 49 wait a few seconds; then the right one logs in', async () => {
    const form = await loginForm('10.0.1.1');
    const tries = await Promise.all(
      Array.from({ length: 50 }, () => login('10.0.1.1', { name: VIEWER.name, password: 'wrong' }, form)),
    );
    expect(statuses(tries)).toEqual({ 401: 1, 429: 49 });
    const waits = tries.filter((r) => r.status === 429).map((r) => Number(r.headers.get('retry-after')));
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...waits)).toBeLessThanOrEqual(4);
    // No lock-out: the right password from elsewhere gets in once the short delay has passed.
    await expect
      .poll(async () => (await login('10.0.1.2', VIEWER)).status, { timeout: 10_000, interval: 200 })
      .toBe(303);
  });

  it('the delay grows with each failure, up to maxUserDelaySeconds', async () => {
    const wrong = { name: 'nobody', password: 'wrong' };
    // When the last counted failure was sent and answered: its hold began in between.
    let last = { sent: 0, answered: 0 };
    for (let i = 0; i < 4; i++) {
      // Waits out the delay: a refused try only names the seconds left and counts nothing.
      await expect
        .poll(
          async () => {
            const sent = Date.now();
            const { status } = await login(`10.0.4.${i}`, wrong);
            if (status === 401) last = { sent, answered: Date.now() };
            return status;
          },
          { timeout: 10_000, interval: 250 },
        )
        .toBe(401);
    }
    const sent = Date.now();
    const refused = await login('10.0.4.9', wrong);
    const answered = Date.now();
    expect(refused.status).toBe(429);
    // Holds of 1, 2, 4, then 8 capped at 4 s. The seconds left are bounded by the times
    // measured around both requests, so a slow machine widens the bounds instead of failing.
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeLessThanOrEqual(Math.ceil((last.answered + 4000 - sent) / 1000));
    expect(retryAfter).toBeGreaterThanOrEqual(Math.max(1, Math.ceil((last.sent + 4000 - answered) / 1000)));
    expect(retryAfter).toBeLessThanOrEqual(4);
  });

  it('50 parallel attempts from one address: perAddress (10) are checked, the rest refused, the right password too', async () => {
    const form = await loginForm('10.0.2.1');
    const tries = await Promise.all(
      Array.from({ length: 50 }, (_, i) => login('10.0.2.1', { name: `guess${i}`, password: 'x' }, form)),
    );
    expect(statuses(tries)).toEqual({ 401: 10, 429: 40 });
    const refused = await login('10.0.2.1', ADMIN);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(200);
    // A client cannot step around it by writing its own X-Forwarded-For: only the proxy's entry counts.
    expect((await login('10.9.9.9, 10.0.2.1', ADMIN)).status).toBe(429);
    expect((await login('10.0.2.2', ADMIN)).status).toBe(303);
  });
});

describe('LoginRateLimiter in Redis', () => {
  it('a success takes its attempt back and clears the name; names compare case-insensitively; keys hold no name or address', async () => {
    const prefix = freshPrefix();
    const key = (...p: string[]) => `{${prefix}}:state:${p.join(':')}`;
    const rl = new LoginRateLimiter(dash.rt.redis, key, () => ({
      perAddress: 2,
      windowMinutes: 5,
      maxUserDelaySeconds: 30,
    }));
    expect(await rl.attempt('192.0.2.7', 'alice')).toBeUndefined();
    expect(await rl.attempt('192.0.2.7', 'Alice')).toMatchObject({ scope: 'user', retryAfter: 1 });
    await rl.succeeded('192.0.2.7', 'alice');
    expect(await rl.attempt('192.0.2.7', 'alice')).toBeUndefined(); // the name starts afresh
    expect(await rl.attempt('192.0.2.7', 'bob')).toBeUndefined(); // 2 failures from the address now
    expect(await rl.attempt('192.0.2.7', 'carol')).toMatchObject({ scope: 'address' });
    expect(await rl.attempt('192.0.2.8', 'carol')).toBeUndefined();
    const keys = (await dash.rt.redis.keys(`{${prefix}}:*`)).join(' ');
    expect(keys).not.toMatch(/alice|bob|carol|192\.0\.2/);
  });
});

describe('malformed login and logout bodies', () => {
  it('answer 400, not 500: JSON (an object as _csrf, deep nesting), a repeated field', async () => {
    const { token, cookie } = await loginForm('10.0.3.1');
    const post = (path: string, type: string, body: string, more: Record<string, string> = {}) =>
      fetch(`${dash.url}${path}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': type, cookie, ...more },
        body,
      });
    const json = 'application/json';
    expect((await post('/login', json, JSON.stringify({ user: 'a', _csrf: { x: 1 } }))).status).toBe(400);
    expect((await post('/login', json, `${'['.repeat(100_000)}${']'.repeat(100_000)}`)).status).toBe(400);
    expect((await post('/login', 'text/plain', 'user=a')).status).toBe(400);
    const repeated = `user=a&password=b&_csrf=${token}&_csrf=${token}`;
    expect((await post('/login', 'application/x-www-form-urlencoded', repeated)).status).toBe(400);

    const s = await httpLogin(dash.url, ADMIN);
    const out = await post('/logout', json, JSON.stringify({ _csrf: { x: 1 } }), { cookie: s.cookie });
    expect(out.status).toBe(400);
    expect((await s.call('GET', '/api/connectors')).status).toBe(200); // still logged in
  });
});

describe('sessions', () => {
  afterAll(() => {
    writeFileSync(configFile, configText);
    dash.rt.config = loadConfig(configFile, {});
  });

  it("end when the user's password or role changes (SIGHUP reload)", async () => {
    const reload = (text: string) => {
      writeFileSync(configFile, text);
      dash.rt.config = loadConfig(configFile, {});
    };
    const admin = await httpLogin(dash.url, ADMIN);
    const viewer = await httpLogin(dash.url, VIEWER);
    const oldHash = dash.rt.config.dashboard.users.find((u) => u.name === VIEWER.name)!.passwordHash.reveal();
    const changed = { ...VIEWER, password: 'a new viewer password' };
    const newHash = await hashPassword(changed.password, { N: 1024, r: 8, p: 1 });
    reload(configText.replace(oldHash, newHash));
    expect((await viewer.call('GET', '/api/connectors')).status).toBe(401);
    expect((await admin.call('GET', '/api/connectors')).status).toBe(200); // unchanged user: kept

    const again = await httpLogin(dash.url, changed);
    reload(
      readFileSync(configFile, 'utf8').replace('name: viewer, role: viewer', 'name: viewer, role: admin'),
    );
    expect((await again.call('GET', '/api/connectors')).status).toBe(401);
    expect((await admin.call('GET', '/api/connectors')).status).toBe(200);
  });
});

describe('Bull Board', () => {
  it('refuses "add job" and "update data" (no validation or sealing there), same-origin admin or not', async () => {
    const s = await httpLogin(dash.url, ADMIN);
    const queue = dash.rt.queues.get('imapsync')!;
    const sameOrigin = { origin: dash.url };
    const data = { adhoc: { localUser: 'john', remote: { host: 'h', username: 'u', password: 'plain' } } };
    const add = await s.call(
      'POST',
      '/queues/api/queues/imapsync/add',
      { name: 'imapsync', data },
      sameOrigin,
    );
    expect(add.status).toBe(403);
    expect(((await add.json()) as { error: string }).error).toMatch(/mailjobs enqueue/);
    expect(await queue.getJobCounts('wait', 'delayed', 'prioritized')).toEqual({
      wait: 0,
      delayed: 0,
      prioritized: 0,
    });

    const job = await queue.add('imapsync', { kept: true });
    const update = await s.call(
      'PATCH',
      `/queues/api/queues/imapsync/${job.id}/update-data`,
      { jobData: data },
      sameOrigin,
    );
    expect(update.status).toBe(403);
    expect((await queue.getJob(job.id!))!.data).toEqual({ kept: true });
    await job.remove();
  });
});

/** A GET with this exact Host header (fetch would set its own). */
function getWithHost(path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${dash.url}${path}`, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject).end();
  });
}

describe('headers', () => {
  it('a host name not in allowedHosts (DNS rebinding) gets 421; IP addresses, localhost and listed names pass', async () => {
    const port = new URL(dash.url).port;
    expect(await getWithHost('/login', `rebound.example:${port}`)).toBe(421);
    expect(await getWithHost('/assets/dashboard.css', 'rebound.example')).toBe(421);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'dash.example.org'])
      expect([host, await getWithHost('/login', host)]).toEqual([host, 200]);
  });

  it('HSTS only when the request came over TLS (X-Forwarded-Proto from the trusted proxy)', async () => {
    const tls = await fetch(`${dash.url}/login`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(tls.headers.get('strict-transport-security')).toBe('max-age=31536000');
    const plain = await fetch(`${dash.url}/login`);
    expect(plain.headers.get('strict-transport-security')).toBeNull();
  });
});
