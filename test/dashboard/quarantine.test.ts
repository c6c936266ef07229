/**
 * The Quarantine page against a real Dovecot and Redis: its API over HTTP (what the server
 * refuses a viewer, and an admin without the CSRF token), and the page in chromium: the list,
 * search, a message's headers and symbols shown as text, Release and Delete.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, login, pageProblems, screenshot } from '../helpers/browser.js';
import {
  ADMIN,
  VIEWER,
  dashboardConfigLine,
  httpLogin,
  startTestDashboard,
  type TestDashboard,
} from '../helpers/dashboard.js';
import {
  type Setup,
  type World,
  append,
  configFile,
  inbox,
  indexed,
  quarantined,
  runJob,
  setup,
  startWorld,
} from '../quarantine/world.js';

let w: World;
let browser: Browser;
let s: Setup;
let file: string;
let dash: TestDashboard;

/** A subject and a body that would run script if the page rendered them as HTML. */
const EVIL_SUBJECT = '<img src=x onerror="document.body.dataset.pwned=1">Win';
const BODY = '<script>document.body.dataset.pwned=1</script>BODY-TEXT';

beforeAll(async () => {
  [w, browser] = await Promise.all([startWorld(), launchBrowser()]);
  s = await setup(w, 'page');
  file = configFile(w, s, 'notify: off', { extra: [await dashboardConfigLine()] });
  await append(w, s.quarantine, quarantined({ to: [s.alice, s.bob], subject: EVIL_SUBJECT, body: BODY }));
  await append(w, s.quarantine, quarantined({ to: [s.bob], subject: 'Only for bob', body: BODY }));
  await append(w, s.quarantine, quarantined({ contract: false, subject: 'No envelope', body: BODY }));
  await runJob(file);
  dash = await startTestDashboard(file);
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await dash?.close();
  await w?.stop();
});

const idOf = async (subject: string) => (await indexed(w, s)).find((i) => i.subject === subject)!.id;

describe('Quarantine API', () => {
  it('a viewer lists, searches and reads; release and delete are refused by the server', async () => {
    const v = await httpLogin(dash.url, VIEWER);
    const list = await v.call('GET', '/api/quarantine/messages?search=BOB-page&pageSize=1&page=2');
    expect(list.status).toBe(200);
    const body = (await list.json()) as { total: number; page: number; items: { subject: string }[] };
    expect(body.total).toBe(2);
    expect(body.page).toBe(2);
    expect(body.items).toHaveLength(1);
    const id = await idOf('Only for bob');
    const one = await v.call('GET', `/api/quarantine/messages/${id}`);
    const view = (await one.json()) as { item: { symbols: unknown[] }; headers: string };
    expect(view.item.symbols).toEqual([
      { name: 'GTUBE', score: 1000 },
      { name: 'R_DKIM_NA', score: 0 },
      { name: 'MIME_GOOD', score: -0.1 },
    ]);
    expect(view.headers).toContain('X-Quarantine-Queue-Id: 4ABC123DEF');
    expect(JSON.stringify(view)).not.toContain('BODY-TEXT');

    const csrf = { 'x-csrf-token': v.csrf };
    const release = await v.call('POST', `/api/quarantine/messages/${id}/release`, { learnHam: false }, csrf);
    expect(release.status).toBe(403);
    expect(((await release.json()) as { error: string }).error).toMatch(/read-only/);
    expect((await v.call('DELETE', `/api/quarantine/messages/${id}`, {}, csrf)).status).toBe(403);
    expect((await inbox(w, s.quarantine)).length).toBe(3);
    expect(await inbox(w, s.bob)).toEqual([]);
  });

  it('an admin needs the CSRF token; a message without envelope is refused with the reason (409)', async () => {
    const a = await httpLogin(dash.url, ADMIN);
    const id = await idOf('No envelope');
    expect((await a.call('DELETE', `/api/quarantine/messages/${id}`, {})).status).toBe(403);
    const refused = await a.call(
      'POST',
      `/api/quarantine/messages/${id}/release`,
      {},
      { 'x-csrf-token': a.csrf },
    );
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: string }).error).toMatch(
      /cannot be released: no original envelope/,
    );
    expect((await a.call('GET', '/api/quarantine/messages/nonsense')).status).toBe(404);
    expect((await inbox(w, s.quarantine)).length).toBe(3);
  });
});

describe('Quarantine page', () => {
  it('a viewer sees the list and a message, with Release and Delete disabled', async () => {
    const page = await login(browser, dash.url, VIEWER);
    const problems = pageProblems(page);
    await page.goto(`${dash.url}/quarantine`);
    await expect.poll(() => page.locator('#quarantine-list tbody tr[data-id]').count()).toBe(3);
    await page.locator('#quarantine-list a', { hasText: 'Only for bob' }).click();
    await expect.poll(() => page.locator('#message-view').isVisible()).toBe(true);
    expect(await page.locator('#release').isDisabled()).toBe(true);
    expect(await page.locator('#delete').isDisabled()).toBe(true);
    expect(await page.locator('#learn-ham').isDisabled()).toBe(true);
    expect(problems).toEqual([]);
  });

  it('an admin searches, reads a message as text (its HTML never rendered), releases one and deletes one', async () => {
    const page = await login(browser, dash.url, ADMIN);
    const problems = pageProblems(page);
    await page.goto(`${dash.url}/quarantine`);
    const rows = page.locator('#quarantine-list tbody tr[data-id]');
    await expect.poll(() => rows.count()).toBe(3);
    await page.fill('#search', `alice-page`);
    await page.click('#quarantine-search button');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await page.locator('#page-info').innerText()).toBe('1 message matching; page 1 of 1');

    await page.locator('#quarantine-list a', { hasText: 'Win' }).click();
    const view = page.locator('#message-view');
    await expect.poll(() => view.isVisible()).toBe(true);
    expect(await view.locator('[data-field="subject"]').innerText()).toBe(EVIL_SUBJECT);
    expect(await view.locator('[data-field="symbols"]').innerText()).toContain('GTUBE\t1000.00');
    expect(await view.locator('[data-field="headers"]').innerText()).toContain(`X-Quarantine-To: <${s.bob}>`);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('body').getAttribute('data-pwned')).toBeNull();
    expect(await page.content()).not.toContain('BODY-TEXT');
    await screenshot(page, 'quarantine-message');

    await page.click('#release');
    await expect
      .poll(() => page.locator('#notice').innerText())
      .toMatch(/^released \S+ to alice-page@\S+, bob-page@\S+$/);
    expect((await inbox(w, s.alice)).map((m) => m.subject)).toEqual([EVIL_SUBJECT]);
    expect((await inbox(w, s.bob)).map((m) => m.subject)).toEqual([EVIL_SUBJECT]);
    await expect.poll(() => page.locator('#quarantine-actions tbody').innerText()).toMatch(/admin\trelease/);

    await page.fill('#search', '');
    await page.click('#quarantine-search button');
    await expect.poll(() => rows.count()).toBe(2);
    await page.locator('#quarantine-list a', { hasText: 'No envelope' }).click();
    await expect.poll(() => page.locator('#release').isDisabled()).toBe(true);
    await page.click('#delete');
    await expect.poll(() => rows.count()).toBe(1);
    expect((await inbox(w, s.quarantine)).map((m) => m.subject)).toEqual(['Only for bob']);
    expect(problems).toEqual([]);
  });
});
