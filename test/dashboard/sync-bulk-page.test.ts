/**
 * The Synchronization page's bulk part in chromium, against the imapsync world (two real
 * Dovecots) and real workers: a CSV with a bad line is previewed with the line's error and
 * cannot be created; the good file is previewed, created (passwords sealed on the server),
 * listed under "All tasks" as not started, then "Start all" runs them until the totals say
 * every account is done and each local mailbox holds its messages.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerSet } from '../../src/worker/workers.js';
import { launchBrowser, login, pageProblems, screenshot } from '../helpers/browser.js';
import { ADMIN, dashboardConfigLine, startTestDashboard, type TestDashboard } from '../helpers/dashboard.js';
import { startTestWorkers } from '../helpers/runtime.js';
import { makeMessage, seed } from '../imapsync/corpus.js';
import { startSyncWorld, type SyncWorld, writeSyncConfig } from '../imapsync/world.js';

const ACCOUNTS = 3;
const MESSAGES = 5;

let w: SyncWorld;
let dash: TestDashboard;
let workers: WorkerSet;
let browser: Browser;
const lines = ['localUser,host,username,password,port,security,verifyCertificate'];

beforeAll(async () => {
  [w, browser] = await Promise.all([startSyncWorld(), launchBrowser()]);
  for (let i = 0; i < ACCOUNTS; i++) {
    const r = await w.remote.addUser(`page-r${i}`);
    await w.local.addUser(`page-l${i}`);
    await seed(
      w.remote,
      r.user,
      Array.from({ length: MESSAGES }, (_, k) => ({
        folder: 'INBOX',
        raw: makeMessage(`page-bulk-${i}-${k}`),
        flags: [],
        internalDate: new Date(Date.UTC(2022, 0, 1 + k)),
      })),
    );
    lines.push(`page-l${i},127.0.0.1,${r.user},${r.password},${w.remote.imapsPort},tls,false`);
  }
  const config = writeSyncConfig(
    w,
    [],
    ['imapsync: { adhoc: { allow: [127.0.0.1] } }', await dashboardConfigLine()],
  );
  dash = await startTestDashboard(config);
  workers = startTestWorkers(
    dash.rt,
    dash.rt.jobs.filter((j) => j.name === 'imapsync'),
    dash.rt.log,
  );
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await workers?.close();
  await dash?.close();
  await w?.stop();
});

describe('Synchronization page: import and bulk start', () => {
  it('previews errors by line, creates the good file, "Start all" runs every task to done', async () => {
    const page = await login(browser, dash.url, ADMIN);
    const problems = pageProblems(page);
    await page.goto(`${dash.url}/sync`);
    const form = page.locator('#sync-import');
    const file = (name: string, text: string) =>
      form
        .locator('input[name="file"]')
        .setInputFiles({ name, mimeType: 'text/csv', buffer: Buffer.from(text) });
    const status = form.locator('[data-field="status"]');
    const create = form.locator('button[data-action="create"]');

    await file('bad.csv', [...lines, 'page-lx,127.0.0.1,page-rx,pw,70000,tls,false'].join('\n'));
    await form.locator('button[data-action="preview"]').click();
    await expect.poll(() => status.innerText()).toBe('1 bad line(s): nothing can be created');
    expect(await form.locator('[data-field="preview"] li').allInnerTexts()).toEqual([
      `line ${ACCOUNTS + 2}: port: Too big: expected number to be <=65535`,
    ]);
    expect(await create.isDisabled()).toBe(true);

    await file('tasks.csv', lines.join('\n'));
    await form.locator('button[data-action="preview"]').click();
    await expect.poll(() => status.innerText()).toBe(`${ACCOUNTS} task(s) to create`);
    expect(await form.locator('[data-field="preview"] li').first().innerText()).toBe(
      'line 2: page-r0@127.0.0.1 → page-l0 (password)',
    );
    const fleet = page.locator('#sync-fleet');
    expect(await fleet.locator('tbody tr[data-target]').count()).toBe(0);
    await create.click();
    await expect.poll(() => status.innerText()).toBe(`${ACCOUNTS} task(s) created, 0 replaced`);
    const rows = fleet.locator('tbody tr[data-target]');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(ACCOUNTS);
    expect(await fleet.locator('tr[data-state="not-started"]').count()).toBe(ACCOUNTS);
    await screenshot(page, 'sync-bulk-imported');

    await fleet.locator('button[data-bulk="start"]').click();
    await expect.poll(() => page.locator('#notice').innerText()).toBe(`Start all: ${ACCOUNTS} task(s)`);
    const totals = fleet.locator('[data-field="totals"]');
    await expect
      .poll(() => totals.innerText(), { timeout: 180_000, interval: 500 })
      .toMatch(new RegExp(`^${ACCOUNTS} of ${ACCOUNTS} accounts done · 0 running`));
    expect(await rows.first().locator('[data-field="messages"]').innerText()).toBe(
      `${MESSAGES} / ${MESSAGES}`,
    );
    expect(await rows.first().locator('[data-field="last"]').innerText()).toBe('ok');
    for (let i = 0; i < ACCOUNTS; i++) expect(await w.local.storedMessages(`page-l${i}`)).toBe(MESSAGES);
    await screenshot(page, 'sync-bulk-done');
    expect(problems).toEqual([]);
    await page.context().close();
  }, 300_000);
});
