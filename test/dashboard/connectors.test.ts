/**
 * The Connectors page in chromium, against real Dovecot fixtures and real workers: "Fetch now"
 * delivers the remote account's mail and the row shows the counts; the viewer's button is
 * disabled and the server refuses the same call from the browser.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerSet } from '../../src/worker/workers.js';
import {
  countMessages,
  deliverTo,
  message,
  startWorld,
  writeWorldConfig,
  type World,
} from '../getmail/world.js';
import { launchBrowser, login, pageProblems, screenshot } from '../helpers/browser.js';
import {
  ADMIN,
  VIEWER,
  dashboardConfigLine,
  startTestDashboard,
  type TestDashboard,
} from '../helpers/dashboard.js';
import { startTestWorkers } from '../helpers/runtime.js';

let w: World;
let dash: TestDashboard;
let workers: WorkerSet;
let browser: Browser;
let localUser: string;
const ACCOUNT = 'pop3@remote.test';
const WATCHED = 'imap@remote.test';

beforeAll(async () => {
  [w, browser] = await Promise.all([startWorld(), launchBrowser()]);
  const remote = await w.remote.addUser('r-dash');
  localUser = (await w.local.addUser('l-dash')).user;
  await deliverTo(w.remote, remote.user, [message('dash-1'), message('dash-2'), message('dash-3')]);
  const imap = await w.remote.addUser('r-dash-imap');
  const config = writeWorldConfig(
    w,
    [
      { id: ACCOUNT, protocol: 'pop3', user: remote.user, password: remote.password, deliverTo: localUser },
      { id: WATCHED, protocol: 'imap', user: imap.user, password: imap.password, deliverTo: localUser },
    ],
    await dashboardConfigLine(),
  );
  dash = await startTestDashboard(config);
  workers = startTestWorkers(dash.rt, dash.rt.jobs, dash.rt.log);
});

afterAll(async () => {
  await browser?.close();
  await workers?.close();
  await dash?.close();
  await w?.stop();
});

describe('Connectors page', () => {
  it('lists the account; "Fetch now" delivers its mail and the row shows the counts', async () => {
    const page = await login(browser, dash.url, ADMIN);
    const problems = pageProblems(page);
    expect(new URL(page.url()).pathname).toBe('/connectors');
    const row = page.locator(`tr[data-account="${ACCOUNT}"]`);
    await expect.poll(() => row.count()).toBe(1);
    const text = await row.innerText();
    expect(text).toContain('pop3');
    expect(text).toContain('127.0.0.1');
    expect(text).toContain(localUser);
    expect(text).toContain('never');
    // No scheduler ran against this Redis: the row says so.
    expect(text).toContain('no schedule in Redis');

    await row.locator('button.fetch').click();
    await expect.poll(() => page.locator('#notice').innerText()).toContain(`${ACCOUNT}: queued`);
    await expect
      .poll(() => row.locator('td.counts').innerText(), { timeout: 30_000 })
      .toBe('3 delivered, 3 fetched');
    await expect.poll(() => row.locator('td.job').innerText()).toBe('done: 3 delivered, 3 fetched');
    expect(await row.innerText()).toMatch(/ok (just now|\d+ s ago)/);
    expect(await countMessages(w.local, localUser)).toBe(3);
    expect(problems).toEqual([]);
    await screenshot(page, 'connectors-admin');
    await page.context().close();
  });

  it('the viewer sees the row with "Fetch now" disabled, and the server refuses the call anyway', async () => {
    const page = await login(browser, dash.url, VIEWER);
    const row = page.locator(`tr[data-account="${ACCOUNT}"]`);
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.locator('button.fetch').isDisabled()).toBe(true);
    expect(await page.locator('#fetch-all').isDisabled()).toBe(true);
    const token = await page.locator('meta[name="csrf-token"]').getAttribute('content');
    const answer = await page.evaluate(
      async ({ account, token }) => {
        const res = await fetch('/api/connectors/fetch', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-csrf-token': token },
          body: JSON.stringify({ account }),
        });
        return { status: res.status, body: (await res.json()) as { error: string } };
      },
      { account: ACCOUNT, token: token! },
    );
    expect(answer.status).toBe(403);
    expect(answer.body.error).toMatch(/read-only/);
    expect(await dash.rt.queues.get('getmail')!.getJobCounts('wait', 'active')).toEqual({
      wait: 0,
      active: 0,
    });
    await screenshot(page, 'connectors-viewer');
    await page.context().close();
  });

  it('the Push column: the IMAP account is watched with IDLE, the POP3 one says why not', async () => {
    const page = await login(browser, dash.url, VIEWER);
    const watched = page.locator(`tr[data-account="${WATCHED}"] td.push`);
    await expect.poll(() => watched.getAttribute('data-push'), { timeout: 30_000 }).toBe('watching');
    expect(await watched.innerText()).toMatch(/watching, connected (just now|\d+ s ago)[\s\S]*IDLE on INBOX/);
    const pop3 = page.locator(`tr[data-account="${ACCOUNT}"] td.push`);
    expect(await pop3.getAttribute('data-push')).toBe('off');
    expect(await pop3.innerText()).toContain('POP3 has no IDLE');
    await page.context().close();
  });
});
