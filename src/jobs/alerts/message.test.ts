import { describe, expect, it } from 'vitest';
import { composeMail, postmasterMail, rfc5322Date } from './message.js';

describe('alert mails', () => {
  it('are RFC 5322 messages marked auto-generated, with a plain text body', () => {
    const raw = composeMail({
      from: 'mailjobs@mx1.example.org',
      to: 'postmaster',
      subject: '[mailjobs mx1] 1 problem started',
      lines: ['Started:', '  - something'],
      date: new Date(Date.UTC(2026, 11, 5, 8, 17, 18)),
    }).toString('utf8');
    const [head, body] = raw.split('\r\n\r\n');
    expect(head!.split('\r\n')).toEqual([
      'From: mailjobs@mx1.example.org',
      'To: postmaster',
      'Subject: [mailjobs mx1] 1 problem started',
      'Date: Sat, 05 Dec 2026 08:17:18 +0000',
      expect.stringMatching(/^Message-ID: <[0-9a-z]+\.[0-9a-f]{16}@mx1\.example\.org>$/),
      'Auto-Submitted: auto-generated',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
    ]);
    expect(body).toBe('Started:\r\n  - something\r\n');
  });

  it('encode a subject that is not ASCII (RFC 2047) and never let a line break into the header', () => {
    const raw = composeMail({
      from: 'a@b.c',
      to: 'x',
      subject: 'connector jürgen failed\r\nBcc: evil',
      lines: [],
    });
    const subject = /^Subject: (.*(?:\r\n .*)*)$/m.exec(raw.toString('utf8'))![1]!;
    expect(raw.toString('utf8')).not.toMatch(/^Bcc:/m);
    const decoded = subject
      .split('\r\n ')
      .map((w) => Buffer.from(/^=\?UTF-8\?B\?(.*)\?=$/.exec(w)![1]!, 'base64').toString('utf8'))
      .join('');
    expect(decoded).toBe('connector jürgen failed Bcc: evil');
  });

  it('the subject counts what started and what cleared', () => {
    const a = { id: 'a', text: 'a broke', since: 0, mailed: false };
    expect(
      postmasterMail('mx1', {
        started: [a, { ...a, id: 'b' }],
        cleared: [{ ...a, clearedAt: 1 }],
        ongoing: [],
      }).subject,
    ).toBe('[mailjobs mx1] 2 problems started, 1 cleared');
    expect(
      postmasterMail('mx1', { started: [], cleared: [{ ...a, clearedAt: 1 }], ongoing: [a] }).lines,
    ).toContain('  - a broke (since 1970-01-01T00:00:00Z)');
    expect(rfc5322Date(new Date(0))).toBe('Thu, 01 Jan 1970 00:00:00 +0000');
  });
});
