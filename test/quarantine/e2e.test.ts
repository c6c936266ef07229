/**
 * The quarantine end to end, through the real chain: a GTUBE message sent over SMTP to two users
 * passes Postfix and Rspamd's milter (contrib installed as the README says) into the quarantine
 * mailbox; the `quarantine` job notifies the postmaster through the same Postfix; `mailjobs
 * quarantine list` shows it and `mailjobs quarantine release` delivers it to both users. What an
 * admin checks: the mailboxes (over IMAP), the CLI's answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { injectOverSmtp } from '../fixtures/smtp-inject.js';
import {
  DOMAIN,
  type World,
  cli,
  configFile,
  escapeRegExp,
  inbox,
  runJob,
  setup,
  startWorld,
  waitForMail,
  withoutHeaders,
} from './world.js';

const QUARANTINE = `q-e2e@${DOMAIN}`;
const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
const BODY_TEXT = 'E2E-BODY-never-in-a-notification';

let w: World;
beforeAll(async () => {
  w = await startWorld({ rspamdQuarantine: QUARANTINE });
});
afterAll(async () => {
  await w?.stop();
});

/** Waits until Postfix's queue is empty: every delivery of what was sent so far is done. */
const queueDrained = () => w.postfix.waitForQueue((q) => q.length === 0, 60_000);

// Several waits of up to a minute each on a loaded machine (delivery, notification, queue).
describe('quarantine end to end', { timeout: 300_000 }, () => {
  it('GTUBE to two users: quarantined, one notification, listed, released to both once; quarantine empty', async () => {
    const s = await setup(w, 'e2e');
    expect(s.quarantine).toBe(QUARANTINE);
    const file = configFile(w, s, 'notify: each');
    const subject = `Cheap offer ${Date.now()}`;
    const [head, body] = [
      [
        `From: Spammer <spammer@spam.example>`,
        `To: ${s.alice}, ${s.bob}`,
        `Subject: ${subject}`,
        `Message-ID: <e2e.${Date.now()}@spam.example>`,
        'Date: Sat, 05 Dec 2026 10:00:00 +0000',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=us-ascii',
      ].join('\r\n'),
      `${BODY_TEXT}\r\n${GTUBE}\r\n`,
    ];
    const data = `${head}\r\n\r\n${body}`;
    // As sent: the header lines together (the chain adds its own above and below), the body as is.
    const intact = (raw: string): boolean =>
      raw.includes(`\r\n${head}\r\n`) && raw.endsWith(`\r\n\r\n${body}`);
    await injectOverSmtp(w.postfix.smtpPort, 1, () => ({
      from: 'spammer@spam.example',
      to: [s.alice, s.bob],
      data,
    }));

    // Postfix → Rspamd milter → the quarantine mailbox only.
    const [held] = await waitForMail(w, s.quarantine, 1);
    await queueDrained();
    expect(await inbox(w, s.quarantine)).toHaveLength(1);
    expect(await inbox(w, s.alice)).toEqual([]);
    expect(await inbox(w, s.bob)).toEqual([]);
    const quarantinedCopy = held!.source;
    expect(intact(quarantinedCopy)).toBe(true);
    expect(quarantinedCopy).toMatch(new RegExp(`^X-Quarantine-To: <${s.alice}>\\r$`, 'm'));
    const queueId = quarantinedCopy.match(/^X-Quarantine-Queue-Id: ([0-9A-F]+)\r$/m)?.[1];
    expect(queueId).toMatch(/^[0-9A-F]{6,}$/);

    // The job indexes it and mails the postmaster once, through the same Postfix.
    expect(await runJob(file)).toMatchObject({ messages: 1, indexed: 1, notified: 1 });
    const [note] = await waitForMail(w, s.postmaster, 1);
    expect(note!.subject).toMatch(new RegExp(`\\] quarantined: ${subject}$`));
    expect(note!.source).toContain('Envelope from:  spammer@spam.example');
    expect(note!.source).toContain(`Envelope to:    ${s.alice}, ${s.bob}`);
    expect(note!.source).toContain(`Subject:        ${subject}`);
    expect(note!.source).toContain(`Queue id:       ${queueId}`);
    expect(note!.source).toMatch(/^Symbols: +.*GTUBE\(\d+\.\d\d\)/m);
    expect(note!.source).not.toContain(BODY_TEXT);
    expect(note!.source).not.toContain(GTUBE);
    // A second run mails nothing; once Postfix is done, still exactly one notification.
    expect(await runJob(file)).toMatchObject({ indexed: 0, notified: 0 });
    await queueDrained();
    expect(await inbox(w, s.postmaster)).toHaveLength(1);

    const list = await cli(['quarantine', 'list', '--json', '--config', file]);
    expect(list.code, list.err).toBe(0);
    const listed = JSON.parse(list.out) as { total: number; items: Record<string, unknown>[] };
    expect(listed).toMatchObject({
      total: 1,
      items: [{ from: 'spammer@spam.example', to: [s.alice, s.bob], subject, queueId, action: 'reject' }],
    });
    expect(list.out).not.toContain(BODY_TEXT);
    const id = listed.items[0]!.id as string;

    // Not delivered to the users before the release; once each after it.
    expect(await inbox(w, s.alice)).toEqual([]);
    expect(await inbox(w, s.bob)).toEqual([]);
    const released = await cli(['quarantine', 'release', id, '--config', file]);
    expect(released.code, released.err).toBe(0);
    expect(released.out).toBe(`released ${id} to ${s.alice}, ${s.bob}`);
    // What the quarantine mailbox held, less the contract and what its own delivery added.
    const kept = withoutHeaders(quarantinedCopy, /^(Return-Path|X-Quarantine-[\w-]+|X-Rspamd-Action):/i);
    const expected = new RegExp(
      `^Return-Path: <spammer@spam\\.example>\\r\\nX-Mailjobs-Released: by cli:\\S+ at \\S+Z; quarantine id ${id}\\r\\n${escapeRegExp(kept)}$`,
    );
    for (const user of [s.alice, s.bob]) {
      const box = await waitForMail(w, user, 1);
      expect(box[0]!.source).toMatch(expected);
      expect(box[0]!.source).not.toMatch(/^(X-Quarantine-|X-Rspamd-Action)/im);
      expect(intact(box[0]!.source)).toBe(true);
    }
    expect(await inbox(w, s.quarantine)).toEqual([]);
    expect((await cli(['quarantine', 'list', '--config', file])).out).toBe('0 quarantined message(s)');
  });
});
