/**
 * One message never stops an account: a message refused on its own (LMTP 552 for a message
 * over the local quota; clamd's "size limit exceeded" for one stream) is counted failed, left
 * on the server, and the run goes on. After `holdAfterFailures` runs in a row it is held: not
 * tried again, listed in the result, `mailjobs status` and the Connectors API, where an admin
 * retries it or has it delivered anyway.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/load.js';
import { registry } from '../../src/jobs/registry.js';
import { launchBrowser, login, pageProblems } from '../helpers/browser.js';
import { ADMIN, VIEWER, dashboardConfigLine, httpLogin, startTestDashboard } from '../helpers/dashboard.js';
import { runCli } from '../helpers/runtime.js';
import {
  countMessages,
  deliverTo,
  mailbox,
  message,
  runGetmail,
  setQuota,
  startGetmailWorkers,
  traces,
  useWorld,
  writeWorldConfig,
} from './world.js';

const QUOTA_KB = 100;
const w = useWorld({ localQuotaKilobytes: QUOTA_KB });
/**
 * The smallest clamd behind the real client: PING answers PONG, INSTREAM reads the whole stream
 * and answers OK, or clamd's own size-limit ERROR for a stream holding "POISON". (A real clamd
 * says that at its StreamMaxLength, but closes with our frames unread: the answer is then
 * sometimes lost, see ClamdClient's maxStreamBytes. A test must not depend on that race.)
 */
async function startFakeClamd(): Promise<{ socket: string; scans: () => number; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'mailjobs-fake-clamd-'));
  const socket = join(dir, 'clamd.sock');
  let scans = 0;
  const server = net.createServer((conn) => {
    let buf = Buffer.alloc(0);
    conn.on('data', (data: Buffer) => {
      buf = Buffer.concat([buf, data]);
      if (buf.equals(Buffer.from('zPING\0'))) return void conn.end('PONG\0');
      const command = Buffer.from('zINSTREAM\0');
      if (!buf.subarray(0, command.length).equals(command)) return;
      const body: Buffer[] = [];
      for (let at = command.length; at + 4 <= buf.length;) {
        const size = buf.readUInt32BE(at);
        if (at + 4 + size > buf.length) return; // wait for the rest of the frame
        if (size === 0) {
          scans++;
          const poison = Buffer.concat(body).includes('POISON');
          return void conn.end(poison ? 'stream: INSTREAM size limit exceeded. ERROR\0' : 'stream: OK\0');
        }
        body.push(buf.subarray(at + 4, at + 4 + size));
        at += 4 + size;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    socket,
    scans: () => scans,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let clamd: Awaited<ReturnType<typeof startFakeClamd>>;
let redis: Redis;
beforeAll(async () => {
  clamd = await startFakeClamd();
  redis = new Redis(w.redis.url);
});
afterAll(async () => {
  await redis?.quit();
  await clamd?.stop();
});

const big = (id: string, kilobytes: number) =>
  message(id, `${'y'.repeat(76)}\r\n`.repeat(Math.ceil((kilobytes * 1024) / 78)));
const ids = (stored: { source: Buffer }[]) =>
  stored.map((m) => /Message-ID: <([^@]+)@/.exec(m.source.toString('latin1'))?.[1] ?? '?').sort();

async function account(name: string, messages: Buffer[], extra: string, filters?: string) {
  const remote = await w.remote.addUser(`r-${name}`);
  const local = await w.local.addUser(`l-${name}`);
  await deliverTo(w.remote, remote.user, messages);
  const id = `${name}@remote.test`;
  const spec = { id, protocol: 'pop3' as const, user: remote.user, password: remote.password };
  const file = writeWorldConfig(
    w,
    [{ ...spec, deliverTo: local.user, delete: 'immediately', ...(filters ? { filters } : {}) }],
    `${await dashboardConfigLine()}\n${extra}`,
  );
  return { remote, local, id, file };
}

/** The admin's and the viewer's HTTP sessions on a dashboard for `file`. */
async function dashboard(file: string) {
  const dash = await startTestDashboard(file);
  const [admin, viewer] = await Promise.all([httpLogin(dash.url, ADMIN), httpLogin(dash.url, VIEWER)]);
  const held = async (account: string) => {
    const body = (await (await viewer.call('GET', '/api/connectors')).json()) as {
      connectors: { id: string; held: { key: string; reason: string; failures: number }[] }[];
    };
    return body.connectors.find((c) => c.id === account)!.held;
  };
  return { dash, admin, viewer, held };
}

describe('getmail: a message that fails on its own', () => {
  it('LMTP 552 for one message: the others are delivered; held after 3 runs, shown, not tried; retry delivers it', async () => {
    await setQuota(w.local, { kilobytes: QUOTA_KB, tempfail: false });
    const a = await account(
      'hold',
      [message('hold-0'), big('hold-big', 2 * QUOTA_KB), message('hold-2')],
      '',
    );
    for (let run = 1; run <= 3; run++) {
      const r = await runGetmail(a.file, a.id);
      expect(r.code).toBe(0);
      expect(r.result).toMatchObject({ fetched: run === 1 ? 3 : 1, delivered: run === 1 ? 2 : 0, failed: 1 });
      expect(r.err).toMatch(
        /<hold-big@example\.org> \d+ bytes: refused by LMTP \(.*552 5\.2\.2 .*\); left on the server/,
      );
      expect((r.result as unknown as { held: unknown[] }).held).toHaveLength(run === 3 ? 1 : 0);
    }
    // The fourth run does not try it: nothing fetched, no LMTP transaction, still on the server.
    const fourth = await runGetmail(a.file, a.id);
    expect(fourth.result).toMatchObject({ fetched: 0, delivered: 0, failed: 0 });
    expect(fourth.err).not.toContain('hold-big');
    const [held] = (fourth.result as unknown as { held: Record<string, unknown>[] }).held;
    expect(held).toEqual({
      key: expect.stringMatching(/^INBOX:pop3\//),
      messageId: '<hold-big@example.org>',
      reason: expect.stringMatching(/^refused by LMTP \(.*552 5\.2\.2 /),
      failures: 3,
      since: expect.any(Number),
    });
    expect(ids(await mailbox(w.local, a.local.user))).toEqual(['hold-0', 'hold-2']);
    expect(ids(await mailbox(w.remote, a.remote.user))).toEqual(['hold-big']); // never deleted

    const status = await runCli(['status', 'getmail', '--config', a.file], registry);
    expect(status.code).toBe(1); // a warning: the account works, an admin has a message to decide on
    expect(status.out).toMatch(
      /^ {2}~ hold@remote\.test .*: ok .*; 1 held \(<hold-big@example\.org>: refused by LMTP/m,
    );

    const d = await dashboard(a.file);
    try {
      expect(await d.held(a.id)).toEqual([expect.objectContaining({ key: held!.key, failures: 3 })]);
      const body = { account: a.id, key: held!.key };
      const csrf = { 'x-csrf-token': d.admin.csrf };
      expect(
        (await d.viewer.call('POST', '/api/connectors/held/retry', body, { 'x-csrf-token': d.viewer.csrf }))
          .status,
      ).toBe(403);
      expect((await d.admin.call('POST', '/api/connectors/held/retry', body)).status).toBe(403); // no CSRF token
      expect(await d.held(a.id)).toHaveLength(1);

      await setQuota(w.local, { kilobytes: QUOTA_KB * 10, tempfail: false });
      const retry = await d.admin.call('POST', '/api/connectors/held/retry', body, csrf);
      expect(retry.status).toBe(200);
      const { jobId, status: queued } = (await retry.json()) as { jobId: string; status: string };
      expect(queued).toBe('queued');
      expect(await d.held(a.id)).toEqual([]);
      const h = await startGetmailWorkers(w, a.file);
      try {
        const result = await (await h.queue.getJob(jobId))!.waitUntilFinished(h.events, 60_000);
        expect(result).toMatchObject({ fetched: 1, delivered: 1, failed: 0, deletedRemote: 1, held: [] });
      } finally {
        await h.close();
      }
      const local = await mailbox(w.local, a.local.user);
      expect(ids(local)).toEqual(['hold-0', 'hold-2', 'hold-big']);
      expect(new Set(traces(local)).size).toBe(3);
      expect(await mailbox(w.remote, a.remote.user)).toEqual([]);
    } finally {
      await d.dash.close();
    }
  });

  it('a full mailbox (every message refused 552 5.2.2) stops the run; nothing is counted against the messages', async () => {
    await setQuota(w.local, { kilobytes: QUOTA_KB, tempfail: false });
    const mail = [message('full-0'), message('full-1'), message('full-2')];
    const a = await account('full', mail, '');
    // Fill the local mailbox past its quota (Dovecot's quota_grace lets the mail that crosses the
    // limit in): no fetched message fits any more.
    const head = message('full-filler', '');
    const line = `${'f'.repeat(996)}\r\n`;
    const room = QUOTA_KB * 1024 + 100 - head.length;
    const filler = Buffer.concat([
      head,
      Buffer.from(line.repeat(Math.floor(room / line.length)) + 'f'.repeat(room % line.length)),
    ]);
    await deliverTo(w.local, a.local.user, [filler]);

    const run = await runGetmail(a.file, a.id);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(
      /job failed: getmail full@remote\.test: the mailbox of l-full is full \(.*552 5\.2\.2 /,
    );
    expect(run.err).toMatch(
      /<full-0@example\.org> \d+ bytes: refused by LMTP \(.*552 5\.2\.2 .*\); left on the server/,
    );
    expect(run.err).toMatch(
      /<full-1@example\.org> \d+ bytes: refused by LMTP \(.*\); the mailbox is full: left on the server, run stopped/,
    );
    const failures = `{${loadConfig(a.file, {}).redis.prefix}}:state:getmail:${a.id}:failures`;
    expect(await redis.hlen(failures)).toBe(0); // the first refusal was taken back: nothing held
    expect(await mailbox(w.remote, a.remote.user)).toHaveLength(3);

    await setQuota(w.local, { kilobytes: QUOTA_KB * 10, tempfail: false });
    const next = await runGetmail(a.file, a.id);
    expect(next.result).toMatchObject({ fetched: 3, delivered: 3, failed: 0, deletedRemote: 3, held: [] });
    expect(ids(await mailbox(w.local, a.local.user))).toEqual(['full-0', 'full-1', 'full-2', 'full-filler']);
  });

  it('a scanner erring on one message does not stop the run; "deliver anyway" delivers it once, unscanned', async () => {
    const extra = [
      `clamd: { socket: ${clamd.socket}, timeoutSeconds: 10, maxStreamMegabytes: 1 }`,
      'getmail: { holdAfterFailures: 1 }',
    ].join('\n');
    const a = await account(
      'scan',
      [message('scan-0'), message('scan-bad', 'POISON\r\n'), message('scan-2')],
      extra,
      '{ antivirus: true }',
    );
    const first = await runGetmail(a.file, a.id);
    expect(first.code).toBe(0);
    expect(clamd.scans()).toBe(3);
    expect(first.result).toMatchObject({ fetched: 3, delivered: 2, failed: 1, deletedRemote: 2 });
    expect(first.err).toMatch(
      /<scan-bad@example\.org> \d+ bytes: antivirus \(clamd\) failed on this message \(clamd INSTREAM: .*size limit exceeded.*\); left on the server/,
    );
    expect(first.err).toMatch(/<scan-bad@example\.org> \d+ bytes: held after failing 1 runs in a row/);
    expect(ids(await mailbox(w.remote, a.remote.user))).toEqual(['scan-bad']);

    const d = await dashboard(a.file);
    try {
      const [held] = await d.held(a.id);
      expect(held!.reason).toMatch(/^antivirus \(clamd\) failed on this message/);
      const body = { account: a.id, key: held!.key };
      const viewerTry = await d.viewer.call('POST', '/api/connectors/held/deliver-anyway', body, {
        'x-csrf-token': d.viewer.csrf,
      });
      expect(viewerTry.status).toBe(403);
      // The admin's page lists it under the account, and its "Deliver anyway" button queues a fetch.
      const h = await startGetmailWorkers(w, a.file);
      const browser = await launchBrowser();
      try {
        const page = await login(browser, d.dash.url, ADMIN);
        const problems = pageProblems(page);
        const item = page.locator(`tr[data-held-for="${a.id}"] li`);
        await expect.poll(() => item.count()).toBe(1);
        expect(await item.innerText()).toMatch(
          /<scan-bad@example\.org>: antivirus \(clamd\) failed on this message/,
        );
        await item.locator('button.held-deliver-anyway').click();
        await expect
          .poll(() => page.locator('#notice').innerText())
          .toContain(`${a.id}: deliver anyway, fetch queued`);
        await expect.poll(() => countMessages(w.local, a.local.user), { timeout: 30_000 }).toBe(3);
        // gone at the page's next refresh (every 2 s)
        await expect.poll(() => item.count(), { timeout: 10_000 }).toBe(0);
        expect(problems).toEqual([]);
        expect(clamd.scans()).toBe(3); // delivered unscanned
        const [job] = await h.queue.getJobs(['completed']);
        expect(job!.returnvalue).toMatchObject({ fetched: 1, delivered: 1, failed: 0, held: [] });
        const { logs } = await h.queue.getJobLogs(job!.id!);
        expect(logs).toEqual([
          expect.stringMatching(
            /^<scan-bad@example\.org> \d+ bytes: delivered \(anyway, as an admin asked: unscanned, null sender\)$/,
          ),
        ]);
      } finally {
        await browser.close();
        await h.close();
      }
      expect(await d.held(a.id)).toEqual([]);
    } finally {
      await d.dash.close();
    }
    const local = await mailbox(w.local, a.local.user);
    expect(ids(local)).toEqual(['scan-0', 'scan-2', 'scan-bad']);
    expect(local.find((m) => m.source.includes('scan-bad@'))!.source.toString('latin1')).toMatch(
      /^Return-Path: <>\r$/m,
    );
    expect(await runGetmail(a.file, a.id)).toMatchObject({ result: { fetched: 0, delivered: 0 } });
    expect(await mailbox(w.remote, a.remote.user)).toEqual([]);
  });
});
