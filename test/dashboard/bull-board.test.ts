/**
 * Bull Board at /queues for a logged-in user: every queue listed, job data shown with sealed
 * secrets redacted, all assets local (no console or CSP error).
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { SEALED_PREFIX, sealWithKey } from '../../src/core/crypto.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { launchBrowser, login, pageProblems, screenshot } from '../helpers/browser.js';
import {
  ADMIN,
  dashboardConfigLine,
  httpLogin,
  startTestDashboard,
  type TestDashboard,
} from '../helpers/dashboard.js';
import { freshPrefix, writeConfig } from '../helpers/runtime.js';

let redis: RedisFixture;
let dash: TestDashboard;
let browser: Browser;
let sealed: string;
let jobId: string;

beforeAll(async () => {
  [redis, browser] = await Promise.all([startRedis(), launchBrowser()]);
  const config = writeConfig(redis.url, freshPrefix(), `${await dashboardConfigLine()}\n`);
  dash = await startTestDashboard(config);
  sealed = sealWithKey('remote-password-123', randomBytes(32), {
    host: 'imap.example.org',
    port: 993,
    username: 'john',
    field: 'password',
  });
  // No worker runs: the job waits, and Bull Board shows its data.
  const job = await dash.rt.queues.get('imapsync')!.add('imapsync', {
    adhoc: {
      localUser: 'john',
      remote: { host: 'imap.example.org', security: 'tls', username: 'john', password: sealed },
      options: {},
    },
  });
  jobId = job.id!;
});

afterAll(async () => {
  await browser?.close();
  await dash?.close();
  await redis?.stop();
});

describe('Bull Board', () => {
  it('its API answers job data with the sealed password redacted', async () => {
    const s = await httpLogin(dash.url, ADMIN);
    const res = await s.call(
      'GET',
      '/queues/api/queues?activeQueue=imapsync&status=waiting&page=1&jobsPerPage=10',
    );
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('imap.example.org');
    expect(text).toContain('[redacted]');
    expect(text).not.toContain(sealed);
    expect(text).not.toContain(SEALED_PREFIX);
  });

  it('loads at /queues for a logged-in user, lists every queue and shows the job, no sealed value on the page', async () => {
    const page = await login(browser, dash.url, ADMIN);
    const problems = pageProblems(page);
    const failedLoads: string[] = [];
    page.on('requestfailed', (r) => failedLoads.push(r.url()));
    await page.goto(`${dash.url}/queues/`);
    for (const name of dash.rt.queues.keys()) await page.getByText(name, { exact: true }).first().waitFor();
    await screenshot(page, 'bull-board');
    await page.goto(`${dash.url}/queues/queue/imapsync?status=waiting`);
    await page.getByText('localUser').first().waitFor();
    // Its JSON viewer folds nested objects; what it renders comes from its API, checked redacted above.
    await page.getByText('"john"').first().waitFor();
    const body = await page.locator('body').innerText();
    expect(body).toContain('jobData');
    expect(body).toContain(`#${jobId}`);
    expect(body).not.toContain(sealed);
    expect(body).not.toContain(SEALED_PREFIX);
    await screenshot(page, 'bull-board-job-data');
    expect(failedLoads.filter((u) => !u.startsWith(dash.url))).toEqual([]);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('shows a visible link back to the admin pages, and every page names the mailjobs icon', async () => {
    const page = await login(browser, dash.url, ADMIN);
    const problems = pageProblems(page);
    await page.goto(`${dash.url}/queues/`);
    const back = page.getByRole('link', { name: '← Admin pages' });
    await expect.poll(() => back.isVisible()).toBe(true);
    const icon = async () => page.locator('link[rel="icon"]').first().getAttribute('href');
    expect(await icon()).toBe('/assets/favicon.svg');
    await back.click();
    // `/` redirects to the first admin page.
    await page.waitForURL((url) => !url.pathname.startsWith('/queues'));
    await page.getByRole('navigation').getByRole('link', { name: 'Bull Board' }).waitFor();
    expect(await icon()).toBe('/assets/favicon.svg');
    const svg = await page.request.get(`${dash.url}/favicon.ico`);
    expect(svg.status()).toBe(200);
    expect(svg.headers()['content-type']).toBe('image/svg+xml');
    expect(await svg.text()).toContain('<svg');
    expect(problems).toEqual([]);
    await page.context().close();
  });
});
