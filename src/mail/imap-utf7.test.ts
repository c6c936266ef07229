import { describe, expect, it } from 'vitest';
import { decodeMailboxName, encodeMailboxName, imapDateTime, isAtom, quoteString } from './imap-utf7.js';

describe('modified UTF-7 (RFC 3501 5.1.3)', () => {
  it.each([
    ['INBOX', 'INBOX'],
    ['Kunden & Partner', 'Kunden &- Partner'],
    ['Projekte.Überprüfung', 'Projekte.&ANw-berpr&APw-fung'],
    ['日本語', '&ZeVnLIqe-'],
    ['~peter/mail/台北/日本語', '~peter/mail/&U,BTFw-/&ZeVnLIqe-'],
    ['emoji 😀', 'emoji &2D3eAA-'],
  ])('%s ⇄ %s', (name, wire) => {
    expect(encodeMailboxName(name)).toBe(wire);
    expect(decodeMailboxName(wire)).toBe(name);
  });

  it('quotes strings, refusing what needs a literal', () => {
    expect(quoteString('a "b" \\c')).toBe('"a \\"b\\" \\\\c"');
    expect(quoteString('line\r\nbreak')).toBeUndefined();
    expect(quoteString('é')).toBeUndefined();
  });

  it('formats INTERNALDATE as RFC 3501 date-time with a space-padded day', () => {
    expect(imapDateTime(new Date('2004-01-05T09:03:04Z'))).toBe('" 5-Jan-2004 09:03:04 +0000"');
    expect(imapDateTime(new Date('2019-12-25T23:59:59Z'))).toBe('"25-Dec-2019 23:59:59 +0000"');
  });

  it('tells keyword atoms from what cannot be one', () => {
    expect(isAtom('$Label1')).toBe(true);
    expect(isAtom('Work')).toBe(true);
    expect(isAtom('has space')).toBe(false);
    expect(isAtom('brace]')).toBe(false);
  });
});
