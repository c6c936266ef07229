/**
 * Signing an OAuth2 account in from the dashboard, against the test's authorization server and
 * a real Dovecot that checks tokens by introspection. Over HTTP: only an admin with the CSRF
 * token starts a device login, a second start shows the same code, a viewer sees the state
 * but not the code, a refusal at the provider is shown as such, a dashboard stopped while it
 * waits leaves that said on the page (not a code that can no longer work), a revoked grant
 * reads "re-authorise" with the provider's reason until a new sign-in. In chromium: the admin clicks
 * "Sign in", the user enters the shown code at the provider, the row turns authorised, and a
 * getmail run then logs in with the token and delivers. No token is ever in a page or answer.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverTo, mailbox, message, runGetmail, writeWorldConfig } from '../getmail/world.js';
import { launchBrowser, login, pageProblems, screenshot } from '../helpers/browser.js';
import {
  ADMIN,
  VIEWER,
  dashboardConfigLine,
  httpLogin,
  startTestDashboard,
  type HttpSession,
  type TestDashboard,
} from '../helpers/dashboard.js';
import { useOAuthWorld } from '../oauth/world.js';

const w = useOAuthWorld();
let dash: TestDashboard;
let browser: Browser;
let config: string;
const users: Record<string, string> = {};
const HTTP = 'http@remote.test';
const UI = 'ui@remote.test';
const PASSWORD = 'password@remote.test';
const TASK = 'oauth-task';

/** Access, refresh and device codes of the test server look like `at-…`, `rt-…`, `dc-…`. */
const TOKEN = /\b(at|rt|dc)-[\w-]{20,}/;

beforeAll(async () => {
  browser = await launchBrowser();
  for (const name of ['http', 'ui', 'task']) users[`r-${name}`] = (await w.remote.addUser(`r-${name}`)).user;
  const pw = await w.remote.addUser('r-password');
  const local = (await w.local.addUser('l-ui')).user;
  users['l-ui'] = local;
  await deliverTo(w.remote, users['r-ui']!, [message('oauth-ui-1')]);
  const oauth = {
    protocol: 'imap' as const,
    security: 'none' as const,
    password: '',
    deliverTo: local,
    auth: w.auth,
  };
  config = writeWorldConfig(
    w,
    [
      { id: HTTP, user: users['r-http']!, ...oauth },
      { id: UI, user: users['r-ui']!, ...oauth },
      {
        id: PASSWORD,
        protocol: 'imap',
        security: 'none',
        user: pw.user,
        password: pw.password,
        deliverTo: local,
      },
    ],
    [
      await dashboardConfigLine(),
      w.secretsLine(),
      `sync: [{ id: ${TASK}, localUser: ${local}, remote: { host: 127.0.0.1, port: ${w.remote.imapPort}, security: none, username: ${users['r-task']}, auth: ${w.auth} } }]`,
    ].join('\n'),
  );
  dash = await startTestDashboard(config);
});

afterAll(async () => {
  await browser?.close();
  await dash?.close();
});

type OAuth = {
  state: string;
  reason?: string;
  login?: { state: string; userCode?: string; verificationUri?: string; reason?: string; startedBy: string };
};

/** Every API answer read here, to look for tokens at the end. */
const answers: string[] = [];
async function json(session: HttpSession, method: string, path: string, csrf = true) {
  const res = await session.call(
    method,
    path,
    method === 'GET' ? undefined : {},
    csrf ? { 'x-csrf-token': session.csrf } : {},
  );
  const text = await res.text();
  answers.push(text);
  return { status: res.status, body: JSON.parse(text) as Record<string, unknown> & OAuth };
}

async function connectorOAuth(session: HttpSession, id: string): Promise<OAuth | undefined> {
  const { body } = await json(session, 'GET', '/api/connectors');
  return (body.connectors as { id: string; oauth?: OAuth }[]).find((c) => c.id === id)!.oauth;
}

async function taskOAuth(session: HttpSession): Promise<OAuth | undefined> {
  const { body } = await json(session, 'GET', '/api/sync/tasks');
  return (body.tasks as { id: string; oauth?: OAuth }[]).find((t) => t.id === TASK)!.oauth;
}

describe('OAuth2 sign-in from the dashboard, over HTTP', () => {
  it('only an admin with the CSRF token starts it; a second start shows the same code', async () => {
    const [admin, viewer] = await Promise.all([httpLogin(dash.url, ADMIN), httpLogin(dash.url, VIEWER)]);
    const start = `/api/connectors/${encodeURIComponent(HTTP)}/oauth-login`;
    expect(await connectorOAuth(admin, HTTP)).toEqual({ state: 'not-authorised' });
    expect(await connectorOAuth(admin, PASSWORD)).toBeUndefined();

    const refused = await json(viewer, 'POST', start);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatch(/read-only/);
    expect((await json(admin, 'POST', start, false)).status).toBe(403);
    expect(await connectorOAuth(admin, HTTP)).toEqual({ state: 'not-authorised' });

    const first = await json(admin, 'POST', start);
    expect(first.status).toBe(200);
    expect(first.body.state).toBe('not-authorised');
    expect(first.body.login).toMatchObject({
      state: 'waiting',
      startedBy: ADMIN.name,
      verificationUri: `${w.as.url}/verify`,
    });
    expect(first.body.login!.userCode).toMatch(/^[0-9A-F]{8}$/);
    const again = await json(admin, 'POST', start);
    expect(again.body.login!.userCode).toBe(first.body.login!.userCode);

    // The viewer sees that a sign-in is under way, not the code to complete it.
    const seen = await connectorOAuth(viewer, HTTP);
    expect(seen?.login).toMatchObject({ state: 'waiting', startedBy: ADMIN.name });
    expect(seen?.login?.userCode).toBeUndefined();

    const other = await json(admin, 'POST', `/api/connectors/${encodeURIComponent(PASSWORD)}/oauth-login`);
    expect(other.status).toBe(409);
    expect(other.body.error).toContain('does not log in with OAuth 2.0');
    expect((await json(admin, 'POST', '/api/connectors/nobody/oauth-login')).status).toBe(404);

    w.as.approve(first.body.login!.userCode!, users['r-http']!);
    await expect
      .poll(async () => (await connectorOAuth(admin, HTTP))?.state, { timeout: 30_000 })
      .toBe('authorised');
    expect((await connectorOAuth(admin, HTTP))?.login?.state).toBe('approved');
    expect(answers.join('\n')).not.toMatch(TOKEN);
  }, 60_000);

  it('a sync task: a sign-in refused at the provider is shown as refused, not authorised', async () => {
    const admin = await httpLogin(dash.url, ADMIN);
    const page = await (await admin.call('GET', '/sync')).text();
    expect(page).toContain('data-field="oauth"');
    expect(await taskOAuth(admin)).toEqual({ state: 'not-authorised' });
    const started = await json(admin, 'POST', `/api/sync/tasks/${TASK}/oauth-login`);
    expect(started.status).toBe(200);
    w.as.deny(started.body.login!.userCode!);
    await expect
      .poll(async () => (await taskOAuth(admin))?.login?.state, { timeout: 30_000 })
      .toBe('refused');
    const after = await taskOAuth(admin);
    expect(after?.state).toBe('not-authorised');
    expect(after?.login?.reason).toContain('access_denied');
    expect(answers.join('\n')).not.toMatch(TOKEN);
  }, 60_000);

  it('a dashboard stopped while it waits says so on the page; the grant it had stays', async () => {
    const other = await startTestDashboard(config);
    const admin = await httpLogin(other.url, ADMIN);
    const started = await json(admin, 'POST', `/api/connectors/${encodeURIComponent(HTTP)}/oauth-login`);
    expect(started.body).toMatchObject({ state: 'authorised', login: { state: 'waiting' } });
    await other.close(); // stops waiting for the approval, without waiting for the code to expire
    const seen = await connectorOAuth(await httpLogin(dash.url, ADMIN), HTTP);
    expect(seen?.state).toBe('authorised');
    expect(seen?.login).toMatchObject({
      state: 'failed',
      reason: expect.stringContaining('dashboard stopped'),
    });
  }, 60_000);

  it('a grant the provider revoked shows "re-authorise" with the reason; a new sign-in mends it', async () => {
    const admin = await httpLogin(dash.url, ADMIN);
    w.as.revoke(users['r-http']!);
    const failed = await runGetmail(config, HTTP);
    expect(failed.code).toBe(1);
    const seen = await connectorOAuth(admin, HTTP);
    expect(seen?.state).toBe('reauthorise');
    expect(seen?.reason).toContain('invalid_grant');
    const started = await json(admin, 'POST', `/api/connectors/${encodeURIComponent(HTTP)}/oauth-login`);
    w.as.approve(started.body.login!.userCode!, users['r-http']!);
    await expect
      .poll(async () => (await connectorOAuth(admin, HTTP))?.state, { timeout: 30_000 })
      .toBe('authorised');
    expect((await runGetmail(config, HTTP)).code).toBe(0);
    expect(answers.join('\n')).not.toMatch(TOKEN);
  }, 60_000);
});

describe('OAuth2 sign-in from the Connectors page, in chromium', () => {
  it('the admin signs in with the code shown; then a fetch logs in with the token and delivers', async () => {
    const page = await login(browser, dash.url, ADMIN);
    const problems = pageProblems(page);
    const row = page.locator(`tr[data-account="${UI}"]`);
    await expect
      .poll(() => row.locator('[data-field="oauth-state"]').innerText())
      .toBe('OAuth2: not authorised');
    await row.locator('button.oauth-login').click();
    const code = row.locator('code.user-code');
    await expect.poll(() => code.count()).toBe(1);
    const userCode = await code.innerText();
    expect(await row.locator('[data-field="oauth-login"] a').getAttribute('href')).toBe(`${w.as.url}/verify`);
    expect(await row.locator('button.oauth-login').count()).toBe(0); // waiting: nothing to click twice
    await screenshot(page, 'connectors-oauth-waiting');

    // The user opens the link on any device and enters the code.
    w.as.approve(userCode, users['r-ui']!);
    await expect
      .poll(() => row.locator('[data-field="oauth-state"]').innerText(), { timeout: 30_000 })
      .toMatch(/^OAuth2: authorised/);
    await expect
      .poll(() => row.locator('[data-field="oauth-login"]').getAttribute('data-state'))
      .toBe('approved');
    expect(await row.locator('button.oauth-login').innerText()).toBe('Re-authorise');
    expect(await page.content()).not.toMatch(TOKEN);
    expect(problems).toEqual([]);
    await screenshot(page, 'connectors-oauth-authorised');
    await page.context().close();

    const first = await runGetmail(config, UI);
    expect(first.code).toBe(0);
    expect(first.result).toMatchObject({ delivered: 1 });
    expect((await runGetmail(config, UI)).result).toMatchObject({ delivered: 0 });
    expect(await mailbox(w.local, users['l-ui']!)).toHaveLength(1);
  }, 60_000);

  it('the viewer sees the state without a button, and the server refuses the sign-in', async () => {
    const page = await login(browser, dash.url, VIEWER);
    const row = page.locator(`tr[data-account="${UI}"]`);
    await expect
      .poll(() => row.locator('[data-field="oauth-state"]').innerText())
      .toMatch(/^OAuth2: authorised/);
    expect(await page.locator('button.oauth-login').count()).toBe(0);
    const token = await page.locator('meta[name="csrf-token"]').getAttribute('content');
    const status = await page.evaluate(
      async ({ path, token }) =>
        (
          await fetch(path, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-csrf-token': token },
            body: '{}',
          })
        ).status,
      { path: `/api/connectors/${encodeURIComponent(UI)}/oauth-login`, token: token! },
    );
    expect(status).toBe(403);
    await page.goto(`${dash.url}/sync`);
    const task = page.locator(`tr[data-task="${TASK}"] [data-field="oauth-state"]`);
    await expect.poll(() => task.innerText()).toBe('OAuth2: not authorised');
    expect(await page.locator('button.oauth-login').count()).toBe(0);
    expect(await page.content()).not.toMatch(TOKEN);
    await screenshot(page, 'sync-oauth-viewer');
    await page.context().close();
  });
});
