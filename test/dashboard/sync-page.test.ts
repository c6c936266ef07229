/**
 * The Synchronization page in chromium, against the imapsync world (two real Dovecots) and real
 * workers: "Start" on a task shows the progress moving (messages done, folder, rate) and then
 * the report; the ad-hoc form's "Test login" shows its report too, and its password is sealed.
 * The tasks reach the remote through a throttling proxy, so a run lasts long enough to watch
 * (and to cancel in its middle) on a machine of any speed.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerSet } from '../../src/worker/workers.js';
import { launchBrowser, login, pageProblems, screenshot } from '../helpers/browser.js';
import { ADMIN, dashboardConfigLine, startTestDashboard, type TestDashboard } from '../helpers/dashboard.js';
import { startTestWorkers } from '../helpers/runtime.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { type CorpusMessage, makeMessage, seed } from '../imapsync/corpus.js';
import { startSyncWorld, type SyncWorld, writeSyncConfig } from '../imapsync/world.js';

const FOLDERS = ['INBOX', 'Archiv', 'Projekte', 'Kunden', 'Rechnungen', 'Reisen', 'Privat', 'Vereine'];
const PER_FOLDER = 25;
const TOTAL = FOLDERS.length * PER_FOLDER;
/**
 * Remote bytes per second while a run is watched: the ~0.5 MB the run reads (bodies of ~2.2 kB,
 * their headers, listings) then take about 10 s, so several progress reports (one a second) show.
 */
const WATCHABLE = 48 * 1024;
/**
 * ... and while one is cancelled: the first progress report comes after the first folder (~75 kB),
 * the rest of the run would need about 50 s more, so the cancel lands in its middle.
 */
const CRAWLING = 8 * 1024;

let w: SyncWorld;
let dash: TestDashboard;
let workers: WorkerSet;
let browser: Browser;
let remotePassword: string;
let proxy: TcpProxy;

beforeAll(async () => {
  [w, browser] = await Promise.all([startSyncWorld(), launchBrowser()]);
  proxy = await TcpProxy.start(w.remote.imapsPort!); // the remote has TLS
  const remote = await w.remote.addUser('r-page');
  remotePassword = remote.password;
  await w.local.addUser('l-page');
  await w.local.addUser('l-page-adhoc');
  await w.local.addUser('l-cancel');
  const body = 'Line of text to give the message some weight.\r\n'.repeat(40);
  const messages: CorpusMessage[] = FOLDERS.flatMap((folder, f) =>
    Array.from({ length: PER_FOLDER }, (_, i) => ({
      folder,
      raw: makeMessage(`page-${f}-${i}`, { body }),
      flags: [],
      internalDate: new Date(Date.UTC(2021, 0, 1) + (f * PER_FOLDER + i) * 60_000),
    })),
  );
  await seed(w.remote, remote.user, messages);
  const config = writeSyncConfig(
    w,
    [
      { id: 'migration', localUser: 'l-page', remoteUser: remote.user, password: remote.password },
      { id: 'cancel-me', localUser: 'l-cancel', remoteUser: remote.user, password: remote.password },
    ],
    // ad-hoc tasks may reach the fixtures' 127.0.0.1 only when allowed
    ['imapsync: { parallelFolders: 1, adhoc: { allow: [127.0.0.1] } }', await dashboardConfigLine()],
    undefined,
    { remote: proxy.port },
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
  await proxy?.close();
  await w?.stop();
});

describe('Synchronization page', () => {
  it('"Start" shows the progress moving, then the report', async () => {
    const page = await login(browser, dash.url, ADMIN);
    const problems = pageProblems(page);
    await page.goto(`${dash.url}/sync`);
    const row = page.locator('tr[data-task="migration"]');
    await expect.poll(() => row.locator('[data-field="summary"]').innerText()).toContain('never run');

    proxy.throttle({ downBytesPerSecond: WATCHABLE });
    await row.locator('button[data-action="start"]').click();
    await expect.poll(() => page.locator('#notice').innerText()).toMatch(/^migration: queued \(job .+\)$/);
    // Watch the progress cell until the count of messages done has moved, or the report shows.
    const progress = row.locator('[data-field="progress"]');
    const report = page.locator('#sync-report');
    const shown: string[] = [];
    const seen = new Set<number>();
    await expect
      .poll(
        async () => {
          if (await report.isVisible()) return 'finished';
          const text = await progress.innerText();
          const m = /(\d+)\/(\d+) messages/.exec(text);
          if (m) {
            shown.push(text);
            seen.add(Number(m[1]));
          }
          return seen.size >= 2 ? 'moving' : 'waiting';
        },
        { timeout: 120_000, interval: 100 },
      )
      .not.toBe('waiting');
    expect(seen.size, `progress values seen: ${[...seen].join(', ')}`).toBeGreaterThanOrEqual(2);
    for (const text of shown) expect(text).toMatch(new RegExp(`\\d+/${TOTAL} messages · .* msg/s`));
    await screenshot(page, 'sync-progress');
    await expect.poll(() => report.isVisible(), { timeout: 120_000 }).toBe(true);
    expect(await report.locator('[data-field="outcome"]').innerText()).toBe('outcome: ok');
    const totals = await report.locator('table.totals').innerText();
    expect(totals).toContain(`messages on source\t${TOTAL}`);
    expect(totals).toContain(`copied\t${TOTAL}`);
    expect(await report.locator('table.folders tbody tr').count()).toBe(FOLDERS.length);
    await expect
      .poll(() => row.locator('[data-field="summary"]').innerText())
      .toMatch(new RegExp(`ok \\d+ s ago \\(\\d\\d:\\d\\d\\), ${TOTAL} copied of ${TOTAL}`));
    expect(await row.locator('button[data-action="cancel"]').isHidden()).toBe(true);
    expect(problems).toEqual([]);
    await screenshot(page, 'sync-admin');
    await page.context().close();
  }, 240_000);

  it('"Cancel" stops a running sync: the report says who cancelled it', async () => {
    const page = await login(browser, dash.url, ADMIN);
    await page.goto(`${dash.url}/sync`);
    const row = page.locator('tr[data-task="cancel-me"]');
    proxy.throttle({ downBytesPerSecond: CRAWLING });
    await row.locator('button[data-action="start"]').click();
    const cancel = row.locator('button[data-action="cancel"]');
    await expect
      .poll(() => row.locator('[data-field="progress"]').innerText(), { timeout: 60_000, interval: 100 })
      .toMatch(new RegExp(`\\d+/${TOTAL} messages`));
    await expect.poll(() => cancel.isVisible()).toBe(true);
    await cancel.click();
    await expect.poll(() => page.locator('#notice').innerText()).toBe('cancel-me: cancelling…');
    const report = page.locator('#sync-report');
    await expect
      .poll(
        () =>
          report
            .locator('[data-field="outcome"]')
            .innerText()
            .catch(() => ''),
        { timeout: 60_000 },
      )
      .toBe('failed: cancelled by admin');
    await expect
      .poll(() => row.locator('[data-field="summary"]').innerText(), { timeout: 10_000 })
      .toContain('cancelled by admin');
    expect(await cancel.isHidden()).toBe(true);
    expect(await row.locator('button[data-action="start"]').isEnabled()).toBe(true);
    await screenshot(page, 'sync-cancelled');
    await page.context().close();
    proxy.throttle({});
  }, 120_000);

  it('the ad-hoc form tests both logins and shows the result; the password is sealed', async () => {
    const page = await login(browser, dash.url, ADMIN);
    await page.goto(`${dash.url}/sync`);
    const form = page.locator('#adhoc-form');
    await form.locator('input[name="host"]').fill('127.0.0.1');
    await form.locator('input[name="port"]').fill(String(w.remote.imapsPort));
    await form.locator('select[name="security"]').selectOption('tls');
    await form.locator('input[name="verifyCertificate"]').uncheck();
    await form.locator('input[name="username"]').fill('r-page');
    await form.locator('input[name="password"]').fill(remotePassword);
    await form.locator('input[name="localUser"]').fill('l-page-adhoc');
    await form.locator('button[value="test"]').click();
    await expect.poll(() => page.locator('#adhoc-status').innerText()).toMatch(/^login test queued/);
    expect(await form.locator('input[name="password"]').inputValue()).toBe('');
    const report = page.locator('#sync-report');
    await expect
      .poll(
        () =>
          report
            .locator('[data-field="outcome"]')
            .innerText()
            .catch(() => ''),
        { timeout: 60_000 },
      )
      .toBe('outcome: ok (test login)');
    expect(await report.locator('[data-field="title"]').innerText()).toContain(
      'r-page@127.0.0.1 → l-page-adhoc (test login)',
    );
    await expect
      .poll(() => page.locator('#sync-adhoc tbody tr').first().innerText())
      .toMatch(/r-page@127\.0\.0\.1\tl-page-adhoc\ttest login\tcompleted/);

    const [job] = await dash.rt.queues.get('imapsync')!.getJobs(['completed'], 0, 0);
    expect(JSON.stringify(job!.data)).not.toContain(remotePassword);
    expect(JSON.stringify(job!.data)).toContain('"password":"mjs2.');
    await screenshot(page, 'sync-adhoc');
    await page.context().close();
  }, 120_000);
});
