/**
 * Byte for byte, whatever the server hands out: the odd-message corpus, with good messages
 * before and after it, fetched in one run over POP3 and over IMAP. Each message must be in the
 * local mailbox once, and the local server must hand it out (below the headers added on the
 * way) exactly as the remote server handed it out, over the same protocol: Dovecot normalises
 * some bytes when it hands a message out (bare LF to CRLF on both protocols; over IMAP, NUL to
 * 0x80; over POP3, a final CRLF, and an empty message as one empty line), so what it stored is
 * not what a client gets. Every kind of the corpus can be stored and handed out by Dovecot;
 * one byte cannot be delivered into it (see {@link storedByDovecot}).
 */
import { describe, expect, it } from 'vitest';
import { pop3HandOut, storeInMaildir } from './handed-out.js';
import { ODD_MESSAGES } from './odd-messages.js';
import { mailbox, message, runGetmail, traces, useWorld, writeWorldConfig } from './world.js';

const w = useWorld();

/**
 * What we and Dovecot add on top, in that order: Dovecot's Return-Path (its Received and
 * Delivered-To are off in the fixture), our Received (three lines) and our trace.
 */
const ADDED =
  /^Return-Path: (<[^\r\n]*>)\r\nReceived: from 127\.0\.0\.1 \(account [^)]+\)\r\n\tby [^\r\n]+\r\n\tfor <[^>]+>; [^\r\n]+\r\nX-Mailjobs-Fetched: [^\r\n]+\r\n/;

/**
 * A message whose last line has no line ending gets one: SMTP cannot carry it otherwise (the
 * CRLF before the final "." ends the last line, RFC 5321 4.1.1.4).
 */
function completed(handedOut: Buffer): Buffer {
  if (handedOut.length === 0 || handedOut.at(-1) === 0x0a) return handedOut;
  return Buffer.concat([handedOut, Buffer.from(handedOut.at(-1) === 0x0d ? '\n' : '\r\n')]);
}

/**
 * Dovecot stores lines with LF endings (`mail_save_crlf = no`, its default): a line whose own
 * last byte is a CR (CR CR LF on the wire) is stored as if that CR were part of its line ending,
 * and handed out without it. No client can deliver that byte into such a Dovecot over LMTP (nor
 * APPEND it); the remote here holds it only because its Maildir files were written directly.
 */
function storedByDovecot(bytes: Buffer): Buffer {
  return Buffer.from(bytes.toString('latin1').replace(/\r(\r+\n)/g, '$1'), 'latin1');
}

describe.each(['pop3', 'imap'] as const)('odd messages over %s', (protocol) => {
  it('delivers every one once, intact after the headers added, in one run with good ones around', async () => {
    const remoteUser = await w.remote.addUser(`odd-r-${protocol}`);
    const localUser = await w.local.addUser(`odd-l-${protocol}`);
    const sent = [
      { kind: 'good-first', bytes: message('good-first') },
      ...ODD_MESSAGES,
      { kind: 'good-last', bytes: message('good-last') },
    ];
    await storeInMaildir(
      w.remote,
      remoteUser.user,
      sent.map((m) => m.bytes),
    );
    const handOut = async (fx: typeof w.remote, user: string): Promise<Buffer[]> =>
      protocol === 'pop3' ? pop3HandOut(fx, user) : (await mailbox(fx, user)).map((m) => m.source);
    const remote = await handOut(w.remote, remoteUser.user);
    expect(remote).toHaveLength(sent.length);
    // in the order they were stored (the kind is in each message but the empty one)
    expect(sent.filter(({ kind }, i) => !remote[i]!.toString('latin1').includes(kind))).toEqual([
      expect.objectContaining({ kind: 'zero-bytes' }),
    ]);
    const account = `odd-${protocol}@remote.test`;
    const config = writeWorldConfig(w, [
      {
        id: account,
        protocol,
        security: 'tls',
        user: remoteUser.user,
        password: remoteUser.password,
        deliverTo: localUser.user,
      },
    ]);

    const run = await runGetmail(config, account);
    // the trail: one line per message, each named by its first Message-ID, read as mailers write it
    const trail = run.err.split('\n');
    expect(trail).toHaveLength(sent.length);
    expect(trail.filter((l) => !l.endsWith(': delivered'))).toEqual([]);
    expect(trail).toEqual(expect.arrayContaining([expect.stringMatching(/^<first@odd\.test> \d+ bytes/)]));
    expect(trail).toEqual(
      expect.arrayContaining([expect.stringMatching(/^<space-before-colon@odd\.test> /)]),
    );
    expect(run.err).not.toContain('in-the-body'); // after an empty first line, everything is body
    expect(run.result).toMatchObject({ fetched: sent.length, delivered: sent.length, failed: 0 });

    const local = await handOut(w.local, localUser.user);
    expect(local).toHaveLength(sent.length);
    expect(new Set(traces(await mailbox(w.local, localUser.user))).size).toBe(sent.length);
    const copies = local.map((bytes) => {
      const added = ADDED.exec(bytes.toString('latin1'));
      expect(added, bytes.subarray(0, 300).toString('latin1')).not.toBeNull();
      return { returnPath: added![1], rest: bytes.subarray(added![0].length) };
    });
    // local copies come in delivery order (several LMTP sessions at once): found by content
    for (const [i, { kind, returnPath }] of sent.entries()) {
      const expected = storedByDovecot(completed(remote[i]!));
      const found = copies.filter((c) => c.rest.equals(expected));
      expect(found, `${kind}: copies intact in the local mailbox`).toHaveLength(1);
      expect(found[0]!.returnPath, `${kind}: envelope sender`).toBe(returnPath ?? '<>');
    }
  });
});
