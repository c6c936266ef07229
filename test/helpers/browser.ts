/**
 * Browser tests: Playwright (`playwright-core`, no browser download) driving Debian's
 * chromium, a fresh profile per launch. `login` goes through the real login form;
 * `screenshot` saves a full-page PNG under test-results/screenshots/ (git-ignored) so a person
 * can look at every page after a run.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Credentials } from './dashboard.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT_DIR = join(process.cwd(), 'test-results', 'screenshots');

/** Headless chromium; each `browser.newContext()` is a separate, empty session. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A new context and page, logged in as `who` through the login form; lands on the first page. */
export async function login(browser: Browser, url: string, who: Credentials): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${url}/login`);
  await page.fill('input[name="user"]', who.name);
  await page.fill('input[name="password"]', who.password);
  await Promise.all([page.waitForURL((u) => u.pathname !== '/login'), page.click('button[type="submit"]')]);
  return page;
}

/** Saves `page` as test-results/screenshots/<name>.png; returns the path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Collects the page's console errors and refused (CSP) loads, to assert none happened. */
export function pageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  return problems;
}
