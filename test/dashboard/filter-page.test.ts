/**
 * The Filter page in chromium, against Rspamd, clamd with the freshclam test's local mirror,
 * and real workers: the Bayes meters show the spam and ham learned (each against 200) and the
 * recent learns; "Update now" runs freshclam and the page shows the new daily version.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueLearn } from '../../src/jobs/bayes-learn/body.js';
import type { WorkerSet } from '../../src/worker/workers.js';
import { FIXTURE_DB_VERSION } from '../fixtures/clamd.js';
import { waitUntil } from '../fixtures/service.js';
import { launchBrowser, login, pageProblems, screenshot } from '../helpers/browser.js';
import { ADMIN, dashboardConfigLine, startTestDashboard, type TestDashboard } from '../helpers/dashboard.js';
import { startTestWorkers } from '../helpers/runtime.js';
import { learnableMessage, NEW_DAILY, startFilterWorld, type FilterWorld } from './filter-world.js';

let w: FilterWorld;
let dash: TestDashboard;
let workers: WorkerSet;
let browser: Browser;

beforeAll(async () => {
  [w, browser] = await Promise.all([startFilterWorld(), launchBrowser()]);
  dash = await startTestDashboard(w.config([await dashboardConfigLine()]));
  const jobs = dash.rt.jobs.filter((j) => ['bayes-learn', 'bayes-stats', 'freshclam'].includes(j.name));
  workers = startTestWorkers(dash.rt, jobs, dash.rt.log);
  const queue = dash.rt.queues.get('bayes-learn')!;
  const ids: string[] = [];
  for (const [i, cls] of (['spam', 'spam', 'spam', 'ham', 'ham'] as const).entries()) {
    const message = learnableMessage(`page-${cls}-${i}`);
    ids.push(
      (
        await queueLearn(
          queue,
          { class: cls, user: 'alice', message },
          { redis: dash.rt.redis, prefix: dash.rt.config.redis.prefix },
        )
      ).jobId,
    );
  }
  const learned = await waitUntil(
    async () =>
      (await Promise.all(ids.map(async (id) => (await queue.getJob(id))?.getState()))).every(
        (s) => s === 'completed',
      ),
    60_000,
    200,
  );
  if (!learned) throw new Error('the bayes-learn jobs did not complete');
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await workers?.close();
  await dash?.close();
  await w?.stop();
});

describe('Filter page', () => {
  it('shows the training counts against 200 and the recent learns; "Update now" runs freshclam', async () => {
    const page = await login(browser, dash.url, ADMIN);
    const problems = pageProblems(page);
    await page.goto(`${dash.url}/filter`);
    await expect.poll(() => page.locator('#learns tbody tr').count()).toBe(5);
    expect(await page.locator('#learns tbody').innerText()).toContain('alice\tspam\tlearned');
    expect(await page.locator('#learn-summary').innerText()).toMatch(/^3 spam, 2 ham learned/);
    expect(await page.locator('#antivirus [data-field="version"]').innerText()).toMatch(
      new RegExp(`^daily ${FIXTURE_DB_VERSION} \\(ClamAV \\d`),
    );

    // Rspamd re-reads its counters every 30-60 s: ask again until the meters show them.
    const spam = page.locator('#bayes [data-meter="spam"] [data-field="count"]');
    const ham = page.locator('#bayes [data-meter="ham"] [data-field="count"]');
    await expect
      .poll(
        async () => {
          const shown = `${await spam.innerText()} ${await ham.innerText()}`;
          // Rspamd re-reads the spam and ham counters apart: ask again until both show.
          if (shown !== '3 / 200 2 / 200') await page.locator('#bayes-refresh').click();
          return shown;
        },
        { timeout: 120_000, interval: 4000 },
      )
      .toBe('3 / 200 2 / 200');
    expect(await page.locator('#bayes [data-field="summary"]').innerText()).toContain(
      'not active yet, needs 197 more spam and 198 more ham',
    );
    const width = await page.locator('#bayes [data-meter="spam"] .fill').getAttribute('style');
    expect(width).toBe('width: 1.5%;');

    await page.locator('#freshclam-now').click();
    await expect.poll(() => page.locator('#notice').innerText()).toBe('signature update: queued');
    await expect
      .poll(() => page.locator('#antivirus [data-field="version"]').innerText(), { timeout: 60_000 })
      .toMatch(new RegExp(`^daily ${NEW_DAILY} `));
    // The page polls every 3 s; clamd may show the new daily a moment before the job has ended.
    await expect
      .poll(() => page.locator('#antivirus [data-field="last"]').innerText(), { timeout: 10_000 })
      .toMatch(/^ok (just now|\d+ s ago)$/);
    await expect
      .poll(() => page.locator('#antivirus [data-field="job"]').innerText(), { timeout: 10_000 })
      .toMatch(/^last update finished (just now|\d+ s ago): updated .*daily\.cud.*, reload confirmed$/);
    expect(await page.locator('#antivirus [data-field="status"]').innerText()).toBe('ok');
    expect(await page.locator('#expunge [data-field="summary"]').innerText()).toContain('no run yet');
    expect(problems).toEqual([]);
    await screenshot(page, 'filter-admin');
    await page.context().close();
  }, 240_000);
});
