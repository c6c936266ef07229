/**
 * The quarantine's Rspamd/Postfix side through the real chain: SMTP into a private Postfix,
 * whose milter is a private Rspamd proxy worker running contrib/rspamd as the README installs
 * it, delivering over LMTP into a private Dovecot. What an admin checks: which mailbox holds the
 * message (once, intact), its X-Quarantine-* headers, Postfix's log, the SMTP answer.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type DovecotFixture } from '../fixtures/dovecot.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { injectOverSmtp, type InjectedMessage } from '../fixtures/smtp-inject.js';
import { masterSession } from '../helpers/master-session.js';
import { startQuarantineChain, type QuarantineChain as Chain } from './install.js';

const DOMAIN = 'mail.test.local';
const QUARANTINE = `quarantine@${DOMAIN}`;
const ALICE = `alice@${DOMAIN}`;
const BOB = `bob@${DOMAIN}`;
const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

/**
 * A test's own verdict, besides GTUBE (which Rspamd answers with a shortcut): a header that
 * scores 20, so the message reaches the reject threshold (15) through the ordinary scan.
 */
const TEST_SPAM_RULE = `rspamd_config.MAILJOBS_TEST_SPAM = {
  callback = function(task) return task:get_header('X-Test-Verdict') == 'spam' end,
  score = 20.0,
  description = 'test message marked as spam',
}
`;

let redis: RedisFixture;
let dovecot: DovecotFixture;
let on: Chain;
let off: Chain;

const startChain = (quarantine: boolean): Promise<Chain> =>
  startQuarantineChain({
    redisUrl: redis.url,
    lmtpPort: dovecot.lmtpPort,
    mailbox: QUARANTINE,
    quarantine,
    localFiles: { 'rspamd.local.lua': TEST_SPAM_RULE },
  });

beforeAll(async () => {
  [redis, dovecot] = await Promise.all([startRedis(), startDovecot()]);
  await Promise.all([QUARANTINE, ALICE, BOB].map((u) => dovecot.addUser(u)));
  // One after the other: ports are picked free, then bound by the daemon; two instances picking at
  // once could get the same one, and a ready check would then answer for the other's milter.
  on = await startChain(true);
  off = await startChain(false);
});
afterAll(async () => {
  await Promise.allSettled([on?.stop(), off?.stop()]);
  await Promise.allSettled([dovecot?.stop(), redis?.stop()]);
});

let serial = 0;
/** A message with a unique Message-ID; `extraHeaders` go first, as a sender would put them. */
function message(
  kind: 'spam' | 'ham' | 'scored-spam',
  from: string,
  to: string[],
  extraHeaders: string[] = [],
): InjectedMessage & { id: string; body: string } {
  const id = `q${++serial}.${Date.now()}@example.org`;
  const body =
    kind === 'spam'
      ? `Cheap offer, reply now.\r\n${GTUBE}\r\n`
      : kind === 'scored-spam'
        ? 'Cheap offer, reply now, only today, click below to claim your prize.\r\n'
        : 'Hello Alice,\r\nthe minutes of Tuesday are attached below, as promised.\r\nRegards\r\n';
  const verdict = kind === 'scored-spam' ? ['X-Test-Verdict: spam'] : [];
  const data = [
    ...extraHeaders,
    ...verdict,
    `From: <sender@example.org>`,
    `To: <${ALICE}>`,
    `Subject: test ${id}`,
    `Message-ID: <${id}>`,
    'Date: Sat, 05 Dec 2026 10:00:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    body,
  ].join('\r\n');
  return { from, to, data, id, body };
}

/** Every stored copy of Message-ID `id` in `user`'s INBOX, as raw text (read over IMAP). */
async function copies(user: string, id: string): Promise<string[]> {
  const client = await masterSession(dovecot, user);
  try {
    await client.mailboxOpen('INBOX', { readOnly: true });
    const uids = (await client.search({ header: { 'message-id': id } }, { uid: true })) || [];
    const out: string[] = [];
    if (uids.length === 0) return out;
    for await (const m of client.fetch(uids, { source: true }, { uid: true }))
      out.push(m.source?.toString('latin1') ?? '');
    return out;
  } finally {
    await client.logout();
  }
}

/** The header block as [name, unfolded value] pairs, in order. */
function headers(raw: string): [string, string][] {
  const block = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]/g, ' ');
  return block.split('\r\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]);
}
const values = (raw: string, name: string): string[] =>
  headers(raw)
    .filter(([n]) => n.toLowerCase() === name.toLowerCase())
    .map(([, v]) => v);

const maillog = (c: Chain): Promise<string> => readFile(path.join(c.postfix.dir, 'maillog'), 'utf8');

/** Waits until Postfix is done with queue id `qid` (delivered everywhere, file removed); its log lines. */
async function finished(c: Chain, qid: string): Promise<string[]> {
  await expect
    .poll(async () => (await maillog(c)).includes(`${qid}: removed`), { timeout: 60_000, interval: 250 })
    .toBe(true);
  return (await maillog(c)).split('\n').filter((l) => l.includes(`${qid}: `));
}

/** Waits for the single copy of `id` in `user`'s INBOX; returns it and Postfix's log lines of it. */
async function deliveredOnce(c: Chain, user: string, id: string): Promise<{ raw: string; log: string[] }> {
  try {
    await expect
      .poll(async () => (await copies(user, id)).length, { timeout: 60_000, interval: 250 })
      .toBeGreaterThan(0);
  } catch (err) {
    const logs = `maillog:\n${await maillog(c)}\nrspamd.log:\n${c.rspamd.log(40)}\ndovecot.log:\n${dovecot.log().slice(-3000)}`;
    throw new Error(`${user} did not get ${id}: ${String(err)}\n${logs}`);
  }
  const [raw = ''] = await copies(user, id);
  const line = (await maillog(c)).split('\n').find((l) => l.includes(`message-id=<${id}>`)) ?? '';
  const log = await finished(c, line.match(/: ([0-9A-F]+): message-id=/)?.[1] ?? '(no queue id)');
  expect(await copies(user, id)).toHaveLength(1);
  return { raw, log };
}

/** The addresses Postfix delivered a queue file to, from its `to=<...>, ... status=sent` lines. */
const deliveredTo = (log: string[]): string[] =>
  log.filter((l) => l.includes('status=sent')).map((l) => l.match(/ to=<([^>]*)>/)?.[1] ?? '?');

// Two waits of up to a minute each (delivery, then Postfix done with the queue file).
describe('quarantine on', { timeout: 180_000 }, () => {
  it('delivers reject-level spam to the quarantine mailbox only, once, intact, with its envelope in headers', async () => {
    const started = new Date(Date.now() - 1000);
    // Mixed case: Postfix deletes a recipient only when the milter names it exactly as sent.
    const m = message('spam', 'spammer@example.org', [ALICE, 'Bob@MAIL.test.local']);
    await on.postfix.inject(1, () => m);

    const { raw, log } = await deliveredOnce(on, QUARANTINE, m.id);
    expect(deliveredTo(log)).toEqual([QUARANTINE]);
    expect(await copies(ALICE, m.id)).toEqual([]);
    expect(await copies(BOB, m.id)).toEqual([]);
    expect(raw.endsWith(`\r\n\r\n${m.body}`)).toBe(true);
    expect(values(raw, 'Subject')).toEqual([`test ${m.id}`]);

    expect(values(raw, 'X-Quarantine-From')).toEqual(['<spammer@example.org>']);
    expect(values(raw, 'X-Quarantine-To')).toEqual([`<${ALICE}>`, '<Bob@MAIL.test.local>']);
    expect(values(raw, 'X-Quarantine-Queue-Id')).toHaveLength(1);
    const [qid] = values(raw, 'X-Quarantine-Queue-Id');
    expect(qid).toMatch(/^[0-9A-F]{6,}$/);
    expect(log.some((l) => l.includes(`${qid}: to=<${QUARANTINE}>`) && l.includes('status=sent'))).toBe(true);
    expect(values(raw, 'X-Quarantine-Action')).toEqual(['reject']);
    expect(values(raw, 'X-Quarantine-Score')).toEqual([expect.stringMatching(/^\d+\.\d\d\/15\.00$/)]);
    expect(values(raw, 'X-Quarantine-Symbols')).toEqual([
      expect.stringMatching(/(^|, )GTUBE\(\d+\.\d\d\)(,|$)/),
    ]);
    expect(values(raw, 'X-Quarantine-Date')).toHaveLength(1);
    const [date = ''] = values(raw, 'X-Quarantine-Date');
    expect(date).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(new Date(date).getTime()).toBeGreaterThanOrEqual(started.getTime() - 1000);
    expect(new Date(date).getTime()).toBeLessThanOrEqual(Date.now());
  });

  it('quarantines a message that reaches the reject score through the ordinary scan, with its symbols', async () => {
    const m = message('scored-spam', 'spammer@example.org', [ALICE], ['X-Quarantine-To: <evil@example.org>']);
    await on.postfix.inject(1, () => m);

    const { raw, log } = await deliveredOnce(on, QUARANTINE, m.id);
    expect(deliveredTo(log)).toEqual([QUARANTINE]);
    expect(await copies(ALICE, m.id)).toEqual([]);
    expect(raw.endsWith(`\r\n\r\n${m.body}`)).toBe(true);
    expect(values(raw, 'X-Quarantine-To')).toEqual([`<${ALICE}>`]);
    expect(values(raw, 'X-Quarantine-Action')).toEqual(['reject']);
    const [score = ''] = values(raw, 'X-Quarantine-Score');
    expect(score).toMatch(/^\d+\.\d\d\/15\.00$/);
    expect(Number(score.split('/')[0])).toBeGreaterThanOrEqual(20);
    expect(raw).not.toContain('evil@');
    // Highest first, name(score), comma-separated (folded lines unfolded by headers()).
    const [symbols = ''] = values(raw, 'X-Quarantine-Symbols');
    expect(symbols.split(', ')[0]).toBe('MAILJOBS_TEST_SPAM(20.00)');
    expect(symbols.split(', ').every((s) => /^[A-Z0-9_]+\(-?\d+\.\d\d\)$/.test(s))).toBe(true);
  });

  it('delivers spam sent to the quarantine mailbox itself and to alice there once', async () => {
    const m = message('spam', 'spammer@example.org', [QUARANTINE, ALICE]);
    await on.postfix.inject(1, () => m);

    const { raw, log } = await deliveredOnce(on, QUARANTINE, m.id);
    expect(deliveredTo(log)).toEqual([QUARANTINE]);
    expect(await copies(ALICE, m.id)).toEqual([]);
    expect(values(raw, 'X-Quarantine-To')).toEqual([`<${QUARANTINE}>`, `<${ALICE}>`]);
  });

  it('keeps only the real envelope when the spam came with forged X-Quarantine-* headers; <> for the null sender', async () => {
    const forged = [
      'X-Quarantine-To: <evil@example.org>',
      'x-quarantine-from: <forged@example.org>',
      'X-Quarantine-Queue-Id: FORGED',
    ];
    const m = message('spam', '', [BOB], forged);
    await on.postfix.inject(1, () => m);

    const { raw, log } = await deliveredOnce(on, QUARANTINE, m.id);
    expect(deliveredTo(log)).toEqual([QUARANTINE]);
    expect(await copies(BOB, m.id)).toEqual([]);
    expect(values(raw, 'X-Quarantine-To')).toEqual([`<${BOB}>`]);
    expect(values(raw, 'X-Quarantine-From')).toEqual(['<>']);
    expect(values(raw, 'X-Quarantine-Queue-Id')).toEqual([expect.stringMatching(/^[0-9A-F]{6,}$/)]);
    expect(raw).not.toMatch(/evil@|forged@|FORGED/);
  });

  it('delivers a clean message to its recipient unchanged, also right after spam in the same SMTP session', async () => {
    const spam = message('spam', 'spammer@example.org', [BOB]);
    const ham = message('ham', 'friend@example.org', [ALICE], ['X-Quarantine-To: <evil@example.org>']);
    const batch = [spam, ham];
    await injectOverSmtp(on.postfix.smtpPort, 2, (i) => batch[i] as InjectedMessage, 1);

    const { raw, log } = await deliveredOnce(on, ALICE, ham.id);
    expect(deliveredTo(log)).toEqual([ALICE]);
    expect(raw.endsWith(`\r\n\r\n${ham.body}`)).toBe(true);
    // The forged header is removed, and nothing of the spam's verdict carries over (Rspamd 3.4
    // keeps a milter's no_action for the session's next message unless it is said again).
    expect(headers(raw).map(([n]) => n.toLowerCase())).not.toContainEqual(
      expect.stringMatching(/^x-quarantine-|^x-rspamd-action$/),
    );
    expect(await copies(QUARANTINE, ham.id)).toEqual([]);
    await deliveredOnce(on, QUARANTINE, spam.id);
  });
});

describe('quarantine off (quarantine = false)', { timeout: 180_000 }, () => {
  it('rejects reject-level spam at SMTP as before, and still removes forged X-Quarantine-* headers', async () => {
    const spam = message('spam', 'spammer@example.org', [ALICE]);
    await expect(off.postfix.inject(1, () => spam)).rejects.toThrow(/expected 250, got "5\d\d /);
    const ham = message('ham', 'friend@example.org', [ALICE], ['X-Quarantine-From: <forged@example.org>']);
    await off.postfix.inject(1, () => ham);

    const { raw } = await deliveredOnce(off, ALICE, ham.id);
    expect(values(raw, 'X-Quarantine-From')).toEqual([]);
    expect(raw.endsWith(`\r\n\r\n${ham.body}`)).toBe(true);
    // The spam was refused before it was queued: nowhere to be found.
    expect(await copies(ALICE, spam.id)).toEqual([]);
    expect(await copies(QUARANTINE, spam.id)).toEqual([]);
    expect(await maillog(off)).toMatch(
      /milter-reject: END-OF-MESSAGE .*5\.7\.1 Gtube pattern; from=<spammer@example\.org>/,
    );
  });
});
