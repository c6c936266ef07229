/**
 * The Queue page in chromium, against a private Postfix (relay down: mail stays deferred) and
 * real queue-monitor workers: the chart draws the sampled series and takes new samples while
 * the page is open; "Delete" on a row removes that message; "Delete all" asks first, and only
 * "Yes" deletes.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueJob } from '../../src/client/enqueue.js';
import { queueMonitorJob } from '../../src/jobs/queue-monitor/index.js';
import type { WorkerSet } from '../../src/worker/workers.js';
import { startPostfix, type PostfixFixture } from '../fixtures/postfix.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { waitUntil } from '../fixtures/service.js';
import { launchBrowser, login, pageProblems, screenshot } from '../helpers/browser.js';
import { ADMIN, dashboardConfigLine, startTestDashboard, type TestDashboard } from '../helpers/dashboard.js';
import { freshPrefix, startTestWorkers, writeConfig } from '../helpers/runtime.js';

let redisFx: RedisFixture;
let postfix: PostfixFixture;
let dash: TestDashboard;
let workers: WorkerSet;
let browser: Browser;

/** Queues a sample job; returns its id and a reader of its state. */
async function sample(): Promise<{ jobId: string; state: () => Promise<string> }> {
  const rt = dash.rt;
  const o = await enqueueJob(
    rt.queues.get('queue-monitor')!,
    queueMonitorJob,
    { action: 'sample' },
    { redis: rt.redis, prefix: rt.config.redis.prefix },
  );
  const job = await rt.queues.get('queue-monitor')!.getJob(o.jobId);
  return { jobId: o.jobId, state: () => job!.getState() };
}

/** A sample job, completed (for the hooks: `expect.poll` runs in tests only). */
async function sampleDone(): Promise<void> {
  const { jobId, state } = await sample();
  const done = await waitUntil(async () => (await state()) === 'completed', 20_000, 100);
  if (!done) throw new Error(`sample job ${jobId} did not complete`);
}

beforeAll(async () => {
  [redisFx, postfix, browser] = await Promise.all([startRedis(), startPostfix(), launchBrowser()]);
  const file = writeConfig(
    redisFx.url,
    freshPrefix(),
    `postfix: { configDir: ${postfix.configDir}, commandDirectory: ${postfix.commandDirectory} }\n${await dashboardConfigLine()}\n`,
  );
  dash = await startTestDashboard(file);
  workers = startTestWorkers(dash.rt, [queueMonitorJob], dash.rt.log);
  for (const n of [1, 2, 3, 4]) {
    await postfix.sendmail(
      `sender${n}@example.org`,
      `rcpt${n}@example.net`,
      `Subject: page ${n}\n\n${'hello '.repeat(400 * n)}\n`,
    );
  }
  await postfix.waitForQueue((q) => q.length === 4 && q.every((m) => m.queue_name === 'deferred'));
  // Two points: the second sample job is queued once the first has completed, so its time is later.
  await sampleDone();
  await sampleDone();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await workers?.close();
  await dash?.close();
  await Promise.allSettled([postfix?.stop(), redisFx?.stop()]);
});

describe('Queue page', () => {
  it('draws the chart, updates it, and a message disappears after "Delete"', async () => {
    const page = await login(browser, dash.url, ADMIN);
    const problems = pageProblems(page);
    await page.goto(`${dash.url}/queue`);
    const chart = page.locator('#queue-chart');
    await expect.poll(() => chart.getAttribute('data-points')).toBe('2');
    for (const series of ['count', 'bytes']) {
      const points = (await chart.locator(`polyline[data-series="${series}"]`).getAttribute('points'))!.split(
        ' ',
      );
      expect(points).toHaveLength(2);
      for (const p of points) expect(p).toMatch(/^\d+(\.\d+)?,\d+(\.\d+)?$/);
    }
    expect(await chart.locator('text').allTextContents()).toContain('4'); // the messages axis reaches the 4 queued

    const rows = page.locator('#queue-list tbody tr[data-queue-id]');
    await expect.poll(() => rows.count()).toBe(4);
    expect(await page.locator('#page-info').innerText()).toMatch(/^4 matching of 4 queued/);
    const victim = page.locator('#queue-list tbody tr', { hasText: 'sender2@example.org' });
    const queueId = (await victim.getAttribute('data-queue-id'))!;
    await victim.locator('button', { hasText: 'Delete' }).click();
    await expect
      .poll(() => page.locator('#notice').innerText(), { timeout: 20_000 })
      .toBe(`delete ${queueId}: done, 1 deleted`);
    await expect.poll(() => rows.count()).toBe(3);
    expect(await page.locator(`tr[data-queue-id="${queueId}"]`).count()).toBe(0);
    expect((await postfix.queue()).map((m) => m.queue_id)).not.toContain(queueId);
    await expect
      .poll(() => page.locator('#queue-actions tbody tr').first().innerText())
      .toMatch(new RegExp(`delete\\t${queueId}\\t1 deleted`));

    // The chart follows new samples while the page is open (it polls every 10 s).
    const { state } = await sample();
    await expect.poll(state, { timeout: 20_000, interval: 100 }).toBe('completed');
    await expect.poll(() => chart.getAttribute('data-points'), { timeout: 25_000 }).toBe('3');
    expect(problems).toEqual([]);
    await screenshot(page, 'queue-admin');
    await page.context().close();
  }, 90_000);

  it('"Delete all" asks first: Cancel keeps everything, Yes deletes all', async () => {
    const page = await login(browser, dash.url, ADMIN);
    await page.goto(`${dash.url}/queue`);
    const rows = page.locator('#queue-list tbody tr[data-queue-id]');
    await expect.poll(() => rows.count()).toBe(3);
    const dialog = page.locator('#confirm');
    await page.locator('#delete-all').click();
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await dialog.innerText()).toContain('Delete every message in the queue?');
    await screenshot(page, 'queue-confirm');
    const posts: string[] = [];
    page.on('request', (req) => void (req.method() === 'POST' && posts.push(req.url())));
    // Resolves a task after the dialog's close event: its handler (registered first) has decided by then.
    const decided = page.evaluate(
      "new Promise((resolve) => document.querySelector('#confirm').addEventListener('close', () => setTimeout(resolve, 0), { once: true }))",
    );
    await dialog.locator('button[value="cancel"]').click();
    await decided;
    await expect.poll(() => dialog.isVisible()).toBe(false);
    expect(posts).toEqual([]);
    expect(await dash.rt.queues.get('queue-monitor')!.getJobCounts('wait', 'active')).toEqual({
      wait: 0,
      active: 0,
    });
    expect(await postfix.queue()).toHaveLength(3);

    await page.locator('#delete-all').click();
    await dialog.locator('button[value="ok"]').click();
    await expect
      .poll(() => page.locator('#notice').innerText(), { timeout: 20_000 })
      .toBe('delete all: done, 3 deleted');
    await expect.poll(() => page.locator('#queue-list tbody').innerText()).toBe('The queue is empty.');
    expect(await postfix.queue()).toHaveLength(0);
    await page.context().close();
  }, 60_000);
});
