/**
 * getmail's filters against a real Rspamd and clamd: spam is flagged for Dovecot's sieve,
 * EICAR stays out of the mailbox, and a scanner that is down delays delivery without losing
 * or delivering anything unscanned.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EICAR } from '../fixtures/clamd.js';
import {
  deliverTo,
  mailbox,
  message,
  runGetmail,
  startWorld,
  writeWorldConfig,
  type World,
} from './world.js';

let w: World;
beforeAll(async () => {
  w = await startWorld({ scanners: true });
}, 180_000);
afterAll(async () => {
  await w?.stop();
});

const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
const MIME = ['Date: Wed, 25 Nov 2026 09:00:00 +0000', 'MIME-Version: 1.0'];
const ham = () =>
  message(
    'ham',
    'Dear Alice,\r\nthe meeting moved to Thursday at ten; the agenda is unchanged.\r\nRegards, Bob\r\n',
    [...MIME, 'Content-Type: text/plain; charset=us-ascii'],
  );
const spam = () => message('spam', `${GTUBE}\r\n`, [...MIME, 'Content-Type: text/plain; charset=us-ascii']);
/** EICAR as an attachment: clamd decodes the MIME part and matches the test signature. */
const virus = () =>
  message(
    'virus',
    [
      '--b1',
      'Content-Type: text/plain',
      '',
      'See attached.',
      '--b1',
      'Content-Type: application/octet-stream',
      'Content-Disposition: attachment; filename=eicar.com',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from(EICAR).toString('base64'),
      '--b1--',
      '',
    ].join('\r\n'),
    [...MIME, 'Content-Type: multipart/mixed; boundary="b1"'],
  );

async function setup(name: string, messages: Buffer[], extra = '', del = 'never') {
  const remote = await w.remote.addUser(`r-${name}`);
  const local = await w.local.addUser(`l-${name}`);
  await deliverTo(w.remote, remote.user, messages);
  const id = `${name}@remote.test`;
  const spec = {
    id,
    protocol: 'pop3' as const,
    user: remote.user,
    password: remote.password,
    deliverTo: local.user,
    delete: del,
    filters: '{ antispam: true, antivirus: true }',
  };
  return { remote, local, id, spec, config: writeWorldConfig(w, [spec], extra) };
}

const header = (source: Buffer, name: string) =>
  new RegExp(`^${name}: (.*)\\r?$`, 'm').exec(source.toString('latin1'))?.[1];

describe('getmail filters', () => {
  it('flags spam for the Junk sieve rule, delivers ham unflagged, keeps EICAR out and logs the virus', async () => {
    const s = await setup('mixed', [ham(), spam(), virus()]);
    const run = await runGetmail(s.config, s.id);
    expect(run.result).toMatchObject({ fetched: 3, delivered: 2, spam: 1, infected: 1 });
    expect(run.err).toMatch(/<virus@example\.org> \d+ bytes: infected \(.*eicar.*\); not delivered/i);
    const local = await mailbox(w.local, s.local.user);
    expect(local).toHaveLength(2);
    const bySubject = new Map(local.map((m) => [header(m.source, 'Subject'), m.source]));
    expect(header(bySubject.get('test spam')!, 'X-Spam')).toBe('Yes');
    expect(header(bySubject.get('test spam')!, 'X-Spam-Action')).toMatch(/reject|add header|rewrite subject/);
    expect(header(bySubject.get('test ham')!, 'X-Spam')).toBeUndefined();
    expect(header(bySubject.get('test ham')!, 'X-Spam-Status')).toMatch(
      /^No, score=-?\d+\.\d\d required=\d+\.\d\d$/,
    );
    expect(local.some((m) => m.source.includes(Buffer.from(EICAR).toString('base64')))).toBe(false);
    // delete: never — the infected message is still on the server, and not fetched again
    expect(await mailbox(w.remote, s.remote.user)).toHaveLength(3);
    expect((await runGetmail(s.config, s.id)).result).toMatchObject({ fetched: 0, infected: 0 });
  });

  it('deletes infected mail remotely only when delete is on, and can discard reject-level spam', async () => {
    const s = await setup(
      'discard',
      [ham(), spam(), virus()],
      'getmail: { rejectedSpam: discard, spamSubjectPrefix: "[SPAM]" }',
      'immediately',
    );
    const run = await runGetmail(s.config, s.id);
    expect(run.result).toMatchObject({ delivered: 1, spam: 1, discarded: 1, infected: 1, deletedRemote: 3 });
    expect(await mailbox(w.remote, s.remote.user)).toHaveLength(0);
    expect((await mailbox(w.local, s.local.user)).map((m) => header(m.source, 'Subject'))).toEqual([
      'test ham',
    ]);
  });

  it('with a scanner down: nothing delivered, nothing deleted; delivered on the next run once it is back', async () => {
    const s = await setup(
      'down',
      [ham(), message('ham2', 'Second message with enough words to read as text.\r\n')],
      '',
      'immediately',
    );
    const broken = writeWorldConfig(
      w,
      [s.spec],
      `clamd: { socket: ${w.clamd!.dir}/no-such.sock, timeoutSeconds: 2 }`,
    );
    const down = await runGetmail(broken, s.id);
    expect(down.code).toBe(1);
    expect(down.err).toMatch(/antivirus \(clamd\) unavailable .*nothing unscanned was delivered/);
    expect(await mailbox(w.local, s.local.user)).toHaveLength(0);
    expect(await mailbox(w.remote, s.remote.user)).toHaveLength(2);

    const up = await runGetmail(s.config, s.id);
    expect(up.result).toMatchObject({ delivered: 2, deletedRemote: 2 });
    expect(await mailbox(w.local, s.local.user)).toHaveLength(2);
  });

  it('delivers a message over the antivirus size limit unscanned, and says so', async () => {
    const big = message('big', `${'a'.repeat(76)}\r\n`.repeat(20_000), [
      ...MIME,
      'Content-Type: text/plain; charset=us-ascii',
    ]);
    const s = await setup(
      'big',
      [big],
      `clamd: { socket: ${w.clamd!.socket}, timeoutSeconds: 10, maxStreamMegabytes: 1 }`,
    );
    const run = await runGetmail(s.config, s.id);
    expect(run.result).toMatchObject({ delivered: 1, infected: 0 });
    expect(run.err).toMatch(/<big@example\.org> \d+ bytes: delivered \(antivirus scan skipped: too big\)/);
  });

  it('with a subject prefix, spam filed as junk gets the prefixed Subject and nothing else changes', async () => {
    const s = await setup('prefix', [spam()], 'getmail: { spamSubjectPrefix: "[SPAM]" }');
    const before = (await mailbox(w.remote, s.remote.user))[0]!.source;
    expect((await runGetmail(s.config, s.id)).result).toMatchObject({ delivered: 1, spam: 1 });
    const [copy] = await mailbox(w.local, s.local.user);
    expect(header(copy!.source, 'Subject')).toBe('[SPAM] test spam');
    const strip = (b: Buffer) => b.toString('latin1').replace(/^Subject: .*\r\n/m, '');
    expect(strip(copy!.source).endsWith(strip(before))).toBe(true);
  });
});
