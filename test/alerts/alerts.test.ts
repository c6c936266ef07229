/**
 * Alerts by mail against the real services: a private Dovecot (the connector's remote account
 * and the local mailboxes), a private Postfix that delivers local mail into that Dovecot over
 * LMTP, a private Redis. A connector with a wrong password is run for real; what an admin checks
 * is the postmaster's mailbox, `mailjobs status` and the log.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/load.js';
import { closeQueues, openQueues } from '../../src/core/queues.js';
import { connectRedis } from '../../src/core/redis.js';
import { contracts } from '../../src/jobs/contracts.js';
import { registry } from '../../src/jobs/registry.js';
import { startDovecot, type DovecotFixture, type DovecotUser } from '../fixtures/dovecot.js';
import { freePort } from '../fixtures/ports.js';
import { startPostfix, type PostfixFixture } from '../fixtures/postfix.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { masterSession } from '../helpers/master-session.js';
import { VIEWER, dashboardConfigLine, httpLogin, startTestDashboard } from '../helpers/dashboard.js';
import { freshPrefix, startTestWorkers } from '../helpers/runtime.js';

const DOMAIN = 'mail.test.local';
let redisFx: RedisFixture;
let dovecot: DovecotFixture;
let postfix: PostfixFixture;
let remote: DovecotUser;

beforeAll(async () => {
  [redisFx, dovecot] = await Promise.all([startRedis(), startDovecot()]);
  postfix = await startPostfix({ localLmtpPort: dovecot.lmtpPort });
  remote = await dovecot.addUser('alice');
});
afterAll(async () => {
  await Promise.allSettled([postfix?.stop(), dovecot?.stop(), redisFx?.stop()]);
});

/** Runs the CLI in-process; `logs` gets every log line it wrote (pino JSON, parsed). */
async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const code = await main(argv, { jobs: registry, log, out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n'), logs };
}

interface Setup {
  prefix: string;
  /** The Dovecot user that gets the alerts (`alerts.to`). */
  postmaster: string;
  /** The connector's owner (its `deliverTo`, and the address of their own alert). */
  owner: string;
  connector: string;
}

/** A fresh prefix, postmaster and connector owner, with their mailboxes. */
async function setup(name: string): Promise<Setup> {
  const postmaster = `pm-${name}@${DOMAIN}`;
  const owner = `owner-${name}@${DOMAIN}`;
  await Promise.all([dovecot.addUser(postmaster), dovecot.addUser(owner)]);
  return { prefix: freshPrefix(), postmaster, owner, connector: `alice-${name}` };
}

/** A config for `s`: the connector's password right or wrong, alerts as `alerts` says (YAML flow). */
function configFile(s: Setup, password: string, alerts: string, extra: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailjobs-alerts-'));
  writeFileSync(join(dir, 'password'), password, { mode: 0o600 });
  const file = join(dir, 'mailjobs.yaml');
  writeFileSync(
    file,
    [
      `redis: { url: "${redisFx.url}", prefix: ${s.prefix} }`,
      'workers: { lockDurationSeconds: 5 }',
      'dovecot:',
      `  imap: { host: 127.0.0.1, port: ${dovecot.imapPort}, security: none }`,
      `  lmtp: { host: 127.0.0.1, port: ${dovecot.lmtpPort} }`,
      `  masterPasswordFile: ${dovecot.masterPasswordFile}`,
      `postfix: { configDir: ${postfix.configDir}, commandDirectory: ${postfix.commandDirectory} }`,
      `alerts: { to: ${s.postmaster}, from: mailjobs@${DOMAIN}, ${alerts} }`,
      ...extra,
      'connectors:',
      `  - { id: ${s.connector}, protocol: imap, security: none, host: 127.0.0.1, port: ${dovecot.imapPort}, username: ${remote.user}, passwordFile: ${join(dir, 'password')}, deliverTo: ${s.owner} }`,
    ].join('\n') + '\n',
  );
  return file;
}

/** Alerts through the private Postfix's smtpd, every rule on but those this test bed cannot satisfy. */
const viaPostfix = (more = '') =>
  `smtp: { host: 127.0.0.1, port: ${postfix.smtpPort} }, rules: { signatures: false, noWorker: false }${more}`;

async function getmail(file: string, s: Setup) {
  return cli(['run', 'getmail', JSON.stringify({ account: s.connector }), '--config', file]);
}

async function alerts(file: string) {
  const r = await cli(['run', 'alerts', '{}', '--config', file]);
  expect(r.code, r.err).toBe(0);
  return { ...r, result: JSON.parse(r.out) as Record<string, unknown> };
}

/** Subjects (and sources) of the messages in `user`'s INBOX, in arrival order. */
async function inbox(user: string): Promise<{ subject: string; source: string }[]> {
  const client = await masterSession(dovecot, user);
  try {
    const box = await client.mailboxOpen('INBOX', { readOnly: true });
    if (box.exists === 0) return [];
    const out: { subject: string; source: string }[] = [];
    for await (const m of client.fetch('1:*', { envelope: true, source: true })) {
      out.push({ subject: m.envelope?.subject ?? '', source: m.source!.toString('utf8') });
    }
    return out;
  } finally {
    await client.logout();
  }
}

/** Waits until `user` has `count` messages; returns their subjects. */
async function waitForMail(user: string, count: number): Promise<string[]> {
  await expect.poll(async () => (await inbox(user)).length, { timeout: 30_000, interval: 200 }).toBe(count);
  return (await inbox(user)).map((m) => m.subject);
}

/** Three failed runs of the connector (a wrong password). */
async function failThreeTimes(file: string, s: Setup): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const r = await getmail(file, s);
    expect(r.code).toBe(1);
  }
}

const statusOf = async (file: string) => (await cli(['status', '--config', file])).out;

describe('alerts by mail through a real Postfix', () => {
  it('a connector failing 3 runs in a row: one mail to the postmaster, exactly once; one when it clears', async () => {
    const s = await setup('once');
    const wrong = configFile(s, 'not-the-password', viaPostfix(', minIntervalMinutes: 0, notifyUsers: true'));
    for (let i = 0; i < 2; i++) expect((await getmail(wrong, s)).code).toBe(1);
    expect((await alerts(wrong)).result).toMatchObject({ active: 0, mailed: false });

    expect((await getmail(wrong, s)).code).toBe(1);
    const first = await alerts(wrong);
    expect(first.result).toMatchObject({ active: 1, started: 1, mailed: true });
    expect(first.logs).toContainEqual(
      expect.objectContaining({
        level: 40,
        alert: `connector-failing:${s.connector}`,
        msg: expect.stringMatching(
          /^alert started: connector alice-once \(alice at 127\.0\.0\.1\) failed 3 runs in a row: /,
        ),
      }),
    );
    const [subject] = await waitForMail(s.postmaster, 1);
    expect(subject).toMatch(/^\[mailjobs .+\] 1 problem started$/);
    const [mail] = await inbox(s.postmaster);
    expect(mail!.source).toMatch(/^Auto-Submitted: auto-generated\r?$/m);
    expect(mail!.source).toMatch(/^Message-ID: <[^>]+@mail\.test\.local>\r?$/m);
    expect(mail!.source).toMatch(/^Date: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000\r?$/m);
    expect(mail!.source).toContain(`connector ${s.connector} (alice at 127.0.0.1) failed 3 runs in a row`);
    expect(mail!.source).not.toContain('not-the-password');
    // The connector's owner hears about their own account.
    expect(await waitForMail(s.owner, 1)).toEqual([
      expect.stringMatching(/fetching mail from your external account fails$/),
    ]);

    // Still failing: further runs mail nothing. The test alert that follows is the next mail.
    expect((await getmail(wrong, s)).code).toBe(1);
    expect((await alerts(wrong)).result).toMatchObject({ active: 1, started: 0, mailed: false });
    expect((await alerts(wrong)).result).toMatchObject({ active: 1, started: 0, mailed: false });
    const test = await cli(['alerts', 'test', '--config', wrong]);
    expect(test.code, test.err).toBe(0);
    expect(test.out).toBe(`test alert to ${s.postmaster} handed to smtp 127.0.0.1:${postfix.smtpPort}`);
    const subjects = await waitForMail(s.postmaster, 2);
    expect(subjects[1]).toMatch(/\] test alert$/);
    expect(subjects.filter((t) => t.endsWith('problem started'))).toHaveLength(1);

    const status = await statusOf(wrong);
    expect(status).toMatch(
      new RegExp(
        `^ {2}! connector-failing:${s.connector} {2}connector ${s.connector} .*failed 4 runs in a row: .*\\(since \\d+ s ago, mailed\\)$`,
        'm',
      ),
    );

    // The password is fixed: one "cleared" mail, to both.
    const right = configFile(s, remote.password, viaPostfix(', minIntervalMinutes: 0, notifyUsers: true'));
    const ok = await getmail(right, s);
    expect(ok.code, ok.err).toBe(0);
    const cleared = await alerts(right);
    expect(cleared.result).toMatchObject({ active: 0, cleared: 1, mailed: true });
    expect(cleared.logs).toContainEqual(
      expect.objectContaining({
        level: 30,
        alert: `connector-failing:${s.connector}`,
        msg: expect.stringMatching(/^alert cleared: /),
      }),
    );
    expect((await waitForMail(s.postmaster, 3))[2]).toMatch(/\] 1 cleared$/);
    expect((await waitForMail(s.owner, 2))[1]).toMatch(/works again$/);
    expect(await statusOf(right)).toMatch(
      /^ {4}mail {2}no problem now; last mail to pm-once@mail\.test\.local \d+ s ago$/m,
    );
  });

  it('the rate limit holds: a problem that clears within minIntervalMinutes waits for the next mail', async () => {
    const s = await setup('limit');
    const wrong = configFile(s, 'not-the-password', viaPostfix(', minIntervalMinutes: 60'));
    await failThreeTimes(wrong, s);
    expect((await alerts(wrong)).result).toMatchObject({ started: 1, mailed: true });
    expect(await waitForMail(s.postmaster, 1)).toEqual([expect.stringMatching(/1 problem started$/)]);

    const right = configFile(s, remote.password, viaPostfix(', minIntervalMinutes: 60'));
    expect((await getmail(right, s)).code).toBe(0);
    expect((await alerts(right)).result).toMatchObject({ active: 0, cleared: 1, mailed: false });
    expect(await statusOf(right)).toMatch(
      /^ {4}mail {2}no problem now; last mail to \S+ \d+ s ago; 1 change\(s\) wait for the next mail$/m,
    );
    // Nothing went out: the next mail in the mailbox is the test alert.
    expect((await cli(['alerts', 'test', '--config', right])).code).toBe(0);
    expect((await waitForMail(s.postmaster, 2))[1]).toMatch(/\] test alert$/);
  });

  it('with Postfix unreachable, the alert is in the log and in status, with why no mail went', async () => {
    const s = await setup('down');
    const closed = await freePort();
    const file = configFile(
      s,
      'not-the-password',
      `smtp: { host: 127.0.0.1, port: ${closed}, timeoutSeconds: 5 }, rules: { signatures: false, noWorker: false }`,
      [await dashboardConfigLine()],
    );
    await failThreeTimes(file, s);
    const r = await alerts(file);
    expect(r.result).toMatchObject({ active: 1, started: 1, mailed: false });
    expect(r.result.mailError).toMatch(
      new RegExp(`^smtp 127\\.0\\.0\\.1:${closed}: SMTP connection failed: .*ECONNREFUSED`),
    );
    expect(r.logs).toContainEqual(
      expect.objectContaining({
        level: 40,
        msg: expect.stringMatching(/^alert started: connector alice-down /),
      }),
    );
    expect(r.logs).toContainEqual(
      expect.objectContaining({ level: 40, msg: 'alert mail not sent; it stays due for the next run' }),
    );
    const status = await statusOf(file);
    expect(status).toMatch(
      /^ {2}! connector-failing:alice-down {2}connector alice-down .*\(since \d+ s ago, not mailed yet\)$/m,
    );
    expect(status).toMatch(
      new RegExp(
        `^ {2}~ mail {2}mail to ${s.postmaster} fails \\(\\d+ s ago\\): smtp 127\\.0\\.0\\.1:${closed}: `,
        'm',
      ),
    );

    // The dashboard's Alerts page and its API, as a viewer.
    const dash = await startTestDashboard(file);
    try {
      const viewer = await httpLogin(dash.url, VIEWER);
      const page = await (await viewer.call('GET', '/alerts')).text();
      expect(page).toMatch(
        /<tr class="alert"><td><code>connector-failing:alice-down<\/code><\/td><td>connector alice-down \(alice at 127\.0\.0\.1\) failed 3 runs in a row: .*not mailed yet\)<\/td><\/tr>/,
      );
      expect(page).toMatch(/<p id="alerts-mail" class="bad">mail to pm-down@mail\.test\.local fails /);
      const api = (await (await viewer.call('GET', '/api/alerts')).json()) as Record<string, unknown>;
      expect(api).toMatchObject({
        problems: [
          { target: 'connector-failing:alice-down', severity: 'critical', details: { mailed: false } },
        ],
        mail: { target: 'mail', severity: 'warning' },
      });
    } finally {
      await dash.close();
    }

    const test = await cli(['alerts', 'test', '--config', file]);
    expect(test.code).toBe(1);
    expect(test.err).toMatch(
      new RegExp(
        `^test alert to ${s.postmaster} not sent \\(smtp 127\\.0\\.0\\.1:${closed}\\): SMTP connection failed`,
      ),
    );
  });

  it('a queue with no worker listening is a problem until a worker starts', async () => {
    const s = await setup('workers');
    const file = configFile(
      s,
      'unused',
      `smtp: { host: 127.0.0.1, port: ${postfix.smtpPort} }, minIntervalMinutes: 0, rules: { signatures: false }`,
    );
    const names = Object.keys(contracts);
    expect((await alerts(file)).result).toMatchObject({ active: names.length, mailed: true });
    expect(await waitForMail(s.postmaster, 1)).toEqual([
      expect.stringMatching(new RegExp(`\\] ${names.length} problems started$`)),
    ]);
    expect((await inbox(s.postmaster))[0]!.source).toContain('no worker listens on queue getmail');

    const config = loadConfig(file, {});
    const redis = connectRedis(redisFx.url);
    const queues = openQueues(registry, redisFx.url, config.redis.prefix);
    const workers = startTestWorkers({ config, redisSettings: { url: redisFx.url }, redis }, registry);
    try {
      const fewest = async () =>
        Math.min(...(await Promise.all([...queues.values()].map((q) => q.getWorkersCount()))));
      await expect.poll(fewest, { timeout: 30_000 }).toBeGreaterThan(0);
      expect((await alerts(file)).result).toMatchObject({ active: 0, cleared: names.length, mailed: true });
      expect((await waitForMail(s.postmaster, 2))[1]).toMatch(new RegExp(`\\] ${names.length} cleared$`));
    } finally {
      await workers.close();
      await closeQueues(queues);
      await redis.quit();
    }
  });

  it("the Postfix queue above postfixQueueMax, from queue-monitor's sample of the real queue", async () => {
    const s = await setup('queue');
    const file = configFile(
      s,
      'unused',
      `smtp: { host: 127.0.0.1, port: ${postfix.smtpPort} }, minIntervalMinutes: 0, rules: { signatures: false, noWorker: false, postfixQueueMax: 1 }`,
    );
    // The relay does not answer: mail for other domains stays deferred.
    const before = (await postfix.queue()).length;
    for (const n of [1, 2])
      await postfix.sendmail(`sender${n}@example.org`, `rcpt${n}@example.net`, `Subject: q${n}\n\nhi\n`);
    await postfix.waitForQueue((q) => q.length === before + 2);
    const sample = await cli(['run', 'queue-monitor', '{"action":"sample"}', '--config', file]);
    expect(sample.code, sample.err).toBe(0);
    const r = await alerts(file);
    expect(r.result).toMatchObject({ active: 1, started: 1, mailed: true });
    await waitForMail(s.postmaster, 1);
    const [mail] = await inbox(s.postmaster);
    expect(mail!.source).toMatch(new RegExp(`the Postfix queue holds ${before + 2} messages \\(limit 1\\)`));
  });

  it("alerts test through Postfix's sendmail program delivers one mail", async () => {
    const s = await setup('sendmail');
    const file = configFile(s, 'unused', 'via: sendmail');
    const r = await cli(['alerts', 'test', '--config', file]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe(
      `test alert to ${s.postmaster} handed to sendmail ${postfix.commandDirectory}/sendmail`,
    );
    expect(await waitForMail(s.postmaster, 1)).toEqual([expect.stringMatching(/\] test alert$/)]);
  });
});
