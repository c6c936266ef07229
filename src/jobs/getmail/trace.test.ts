import { describe, expect, it } from 'vitest';
import {
  envelopeSender,
  replaceHeader,
  headerSection,
  headerValue,
  messageIdentity,
  parseTraceValue,
  receivedHeader,
  traceValue,
} from './trace.js';
import { messageKey } from './source.js';

const msg = Buffer.from(
  'Return-Path: <bounce@example.org>\r\nMessage-ID:\r\n <abc@example.org>\r\nSubject: hi\r\n\r\nbody\r\nMessage-ID: <not-a-header>\r\n',
);

describe('getmail trace headers', () => {
  it('trace values end with ";" so uid 5 is not a substring of uid 55', () => {
    expect(traceValue('john@x', 'INBOX', '123', '5')).toBe('john@x 123/5;');
    expect(traceValue('john@x', 'INBOX', '123', '55')).not.toContain(
      traceValue('john@x', 'INBOX', '123', '5'),
    );
    expect(traceValue('john@x', 'Sent Items', '7', '1')).toBe('john@x Sent%20Items:7/1;');
    expect(traceValue('john@x', undefined, 'pop3', 'UID-0001')).toBe('john@x pop3/UID-0001;');
  });

  it('parses back every trace it writes, to the key the message is remembered by', () => {
    const cases: [string | undefined, string, string][] = [
      ['INBOX', '123', '5'],
      ['Sent Items', '7', '1'],
      ['Ärger/2026:Q1 100%', '1700000000', '42'],
      ['inbox', '9', '3'], // only `INBOX` itself is left out of the value
      [undefined, 'pop3', 'UID-0001'],
      [undefined, 'pop3', '000001a3/4f;x:y%20;'], // a UIDL may hold any printable ASCII but space
    ];
    for (const [folder, validity, id] of cases) {
      const parsed = parseTraceValue('john@x.com', traceValue('john@x.com', folder, validity, id));
      expect(parsed).toEqual({ folder: folder ?? 'INBOX', validity, id });
      expect(messageKey({ name: parsed!.folder, validity }, { id })).toBe(
        messageKey({ name: folder ?? 'INBOX', validity }, { id }),
      );
    }
  });

  it("parses only this account's well-formed traces", () => {
    const of = (account: string) => traceValue(account, 'INBOX', '123', '5');
    expect(parseTraceValue('john@x.com', of('john@x.com.au'))).toBeUndefined();
    expect(parseTraceValue('john@x.com', of('JOHN@x.com'))).toBeUndefined();
    expect(parseTraceValue('john', of('john x'))).toBeUndefined(); // `x 123/5;` is no value of ours
    expect(parseTraceValue('john x', of('john x'))).toEqual({ folder: 'INBOX', validity: '123', id: '5' });
    for (const bad of [
      '123/5',
      '123/;',
      '/5;',
      'abc/5;',
      'pop3/a b;',
      'Sent:pop/1;',
      '%E0%A4:1/2;',
      'a:b:1/2;',
    ])
      expect(parseTraceValue('john@x.com', `john@x.com ${bad}`), bad).toBeUndefined();
  });

  it('reads headers only from the header section, unfolded', () => {
    expect(headerSection(msg).toString()).not.toContain('body');
    expect(headerValue(headerSection(msg), 'message-id')).toBe('<abc@example.org>');
    expect(envelopeSender(msg)).toBe('bounce@example.org');
    expect(envelopeSender(Buffer.from('Subject: x\n\nbody'))).toBe('');
  });

  it('takes the envelope sender from the first Return-Path only when it is a valid reverse-path', () => {
    const sender = (...lines: string[]) =>
      envelopeSender(Buffer.from(`${lines.join('\r\n')}\r\n\r\nbody`, 'latin1'));
    expect(sender('Return-Path: <john smith@example.com>')).toBe('"john smith"@example.com');
    expect(sender('Return-Path: <bou\x01nce@example.org>')).toBe('');
    expect(sender('Return-Path: <b\xe9b@example.org>')).toBe('');
    expect(sender('Return-Path: <a@x.org> <b@y.org>')).toBe('');
    expect(sender('Return-Path: <new@example.org>', 'Return-Path: <old@example.org>')).toBe(
      'new@example.org',
    );
    expect(sender('Return-Path:', ' <folded@example.org>')).toBe('folded@example.org');
  });

  it('ends the header section at the first empty line, even the very first line', () => {
    const section = (text: string) => headerSection(Buffer.from(text)).toString();
    expect(section('A: b\r\nC: d\r\n\r\nbody\r\n\r\nmore')).toBe('A: b\r\nC: d');
    expect(section('A: b\n\nbody')).toBe('A: b');
    expect(section('A: b\r\n\nbody')).toBe('A: b');
    expect(section('A: b\n\r\nbody')).toBe('A: b');
    expect(section('\r\nMessage-ID: <in-the-body@x>\r\n\r\ntext')).toBe('');
    expect(section('\nbody')).toBe('');
    expect(section('A: b\r\nno empty line')).toBe('A: b\r\nno empty line');
    expect(
      headerValue(headerSection(Buffer.from('\r\nMessage-ID: <in-the-body@x>\r\n\r\n')), 'Message-ID'),
    ).toBe(undefined);
  });

  it('reads a header written with white space before its colon', () => {
    const section = Buffer.from('Message-ID : <spaced@x>\r\nSubject\t: tab\r\nSubjectline: no');
    expect(headerValue(section, 'Message-ID')).toBe('<spaced@x>');
    expect(headerValue(section, 'Subject')).toBe('tab');
    expect(headerValue(Buffer.from('Subjectline: no'), 'Subject')).toBe(undefined);
  });

  it('identity depends on Message-ID and header, not on the body', () => {
    const other = Buffer.from(msg.toString().replace('body', 'changed body'));
    expect(messageIdentity(other)).toBe(messageIdentity(msg));
    expect(messageIdentity(Buffer.from(msg.toString().replace('Subject: hi', 'Subject: ho')))).not.toBe(
      messageIdentity(msg),
    );
  });

  it('tells messages without a header apart by their first bytes', () => {
    const headerless = (text: string) => messageIdentity(Buffer.from(`\r\n${text}\r\n`));
    expect(headerless('one body')).not.toBe(headerless('another body'));
    expect(headerless('one body')).toBe(headerless('one body'));
  });

  it('Received names the remote host, account, local user and date', () => {
    const h = receivedHeader({
      remoteHost: 'pop.example.com',
      protocol: 'pop3',
      tls: true,
      account: 'john@example.com',
      localUser: 'john',
      date: new Date(Date.UTC(2026, 10, 25, 9, 0, 0)),
    });
    expect(h).toMatch(
      /^Received: from pop\.example\.com \(account john@example\.com\)\r\n\tby .+ \(mailjobs getmail\) with POP3S\r\n\tfor <john>; Wed, 25 Nov 2026 09:00:00 \+0000$/,
    );
  });

  it('replaces a folded Subject and keeps every other byte', () => {
    const section = Buffer.from('From: a\r\nSubject: hello\r\n  world\r\nTo: b');
    expect(replaceHeader(section, 'Subject', 'Subject: [SPAM] hello world').toString()).toBe(
      'From: a\r\nSubject: [SPAM] hello world\r\nTo: b',
    );
    expect(replaceHeader(Buffer.from('From: a\nTo: b'), 'Subject', 'Subject: x').toString()).toBe(
      'Subject: x\nFrom: a\nTo: b',
    );
    // a section cut short (the first bytes of a huge header) is never written into, only before
    const cut = Buffer.from('From: a\r\nX-Huge: 1\r\n\t2\r\n\t3');
    expect(replaceHeader(cut, 'Subject', 'Subject: x').toString()).toBe(`Subject: x\r\n${cut.toString()}`);
    expect(replaceHeader(Buffer.alloc(0), 'Subject', 'Subject: x').toString()).toBe('Subject: x\n');
    expect(replaceHeader(Buffer.from('Subject : old\r\nTo: b'), 'Subject', 'Subject: x').toString()).toBe(
      'Subject: x\r\nTo: b',
    );
    expect(replaceHeader(Buffer.from('Subject: last'), 'Subject', 'Subject: y').toString()).toBe(
      'Subject: y',
    );
  });
});
