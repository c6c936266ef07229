import { describe, expect, it } from 'vitest';
import { checkRecipient, checkSender, isSmtpMailbox, smtpReversePath } from './smtp-address.js';

describe('smtpReversePath', () => {
  it.each([
    ['<bounce@example.org>', 'bounce@example.org'],
    ['  <bounce@example.org>\t', 'bounce@example.org'],
    ['< bounce@example.org >', 'bounce@example.org'],
    ["<o'brien+tag=x_y{1}@sub.example-1.org>", "o'brien+tag=x_y{1}@sub.example-1.org"],
    ['<a@b>', 'a@b'],
    ['<a@[192.0.2.1]>', 'a@[192.0.2.1]'],
    ['<a@[IPv6:2001:db8::1]>', 'a@[IPv6:2001:db8::1]'],
    ['<@relay.example,@hop.example:bounce@example.org>', 'bounce@example.org'],
  ])('keeps a valid path: %s', (header, sender) => {
    expect(smtpReversePath(header)).toBe(sender);
    expect(isSmtpMailbox(sender)).toBe(true);
  });

  it.each([
    ['<john smith@example.com>', '"john smith"@example.com'],
    ['<john..doe@example.com>', '"john..doe"@example.com'],
    ['<.john@example.com>', '".john"@example.com'],
    ['<john.@example.com>', '"john."@example.com'],
    ['<"john smith"@example.com>', '"john smith"@example.com'],
    ['<"a\\"b\\\\c"@example.com>', '"a\\"b\\\\c"@example.com'],
    ['<"a@b"@example.com>', '"a@b"@example.com'],
    // a Quoted-string that could be a Dot-string is sent as one (RFC 5321 4.1.2)
    ['<"john"@example.com>', 'john@example.com'],
  ])('quotes a local part that needs it: %s', (header, sender) => {
    expect(smtpReversePath(header)).toBe(sender);
    expect(isSmtpMailbox(sender)).toBe(true);
  });

  it('keeps a path at the RFC 5321 limits and refuses one octet more', () => {
    const local64 = 'l'.repeat(64);
    expect(smtpReversePath(`<${local64}@example.org>`)).toBe(`${local64}@example.org`);
    expect(smtpReversePath(`<l${local64}@example.org>`)).toBe('');
    // the limit counts the local part as sent: 62 characters and their quotes make 64 octets
    expect(smtpReversePath(`<a b${'c'.repeat(59)}@example.org>`)).toBe(`"a b${'c'.repeat(59)}"@example.org`);
    expect(smtpReversePath(`<a b${'c'.repeat(60)}@example.org>`)).toBe('');
    // three labels of 63 octets (the most a label may have) and a 62-octet local part: 256 octets with "<>"
    const domain = ['x', 'y', 'z'].map((c) => c.repeat(63)).join('.');
    const at256 = `${'l'.repeat(62)}@${domain}`;
    expect(`<${at256}>`).toHaveLength(256);
    expect(smtpReversePath(`<${at256}>`)).toBe(at256);
    expect(smtpReversePath(`<l${at256}>`)).toBe('');
    expect(smtpReversePath(`<a@${'x'.repeat(64)}.org>`)).toBe('');
  });

  it.each([
    ['', 'empty'],
    ['<>', 'the null path'],
    [' <> ', 'the null path with spaces'],
    ['bounce@example.org', 'no angle brackets'],
    ['<bounce@example.org', 'no closing bracket'],
    ['<bounce\r\n@example.org>', 'CR LF'],
    ['<boun\x01ce@example.org>', 'a control character'],
    ['<boun\tce@example.org>', 'a tab'],
    ['<bounce@exam\x00ple.org>', 'NUL in the domain'],
    ['<"a\x07b"@example.org>', 'a control character quoted'],
    ['<b\xe9b\xe9@example.org>', 'an 8-bit local part'],
    ['<bob@\xe9xample.org>', 'an 8-bit domain'],
    ['<b\u00c3\u00a9@example.org>', 'UTF-8 read as bytes'],
    ['<a@x.org> <b@y.org>', 'two addresses'],
    ['<a@x.org>, <b@y.org>', 'two addresses with a comma'],
    ['<a@x.org,b@y.org>', 'two addresses in one pair of brackets'],
    ['<<a@x.org>>', 'nested brackets'],
    ['<bounce>', 'no domain'],
    ['<bounce@>', 'an empty domain'],
    ['<@example.org>', 'an empty local part'],
    ['<""@example.org>', 'an empty quoted local part'],
    ['<"john smith@example.org>', 'an open quote'],
    ['<"john"smith@example.org>', 'text after the quoted string'],
    ['<a(b)@example.org>', 'a comment in the local part'],
    ['<a;b@example.org>', 'a special in the local part'],
    ['<bounce@example..org>', 'an empty label'],
    ['<bounce@-example.org>', 'a label starting with a hyphen'],
    ['<bounce@example.org.>', 'a trailing dot'],
    ['<bounce@exa mple.org>', 'a space in the domain'],
    ['<bounce@exa_mple.org>', 'an underscore in the domain'],
    ['<bounce@[1.2.3.4>', 'an open address literal'],
    ['<bounce@example.org> trailing', 'text after the path'],
  ])('falls back to the null sender: %j (%s)', (header) => {
    expect(smtpReversePath(header)).toBe('');
  });

  it('takes undefined (no Return-Path) as the null sender', () => {
    expect(smtpReversePath(undefined)).toBe('');
  });
});

describe('isSmtpMailbox', () => {
  it.each([
    ['a@b', true],
    ['"john smith"@example.com', true],
    ['"a\\"b"@example.com', true],
    ['john smith@example.com', false],
    ['"a"b"@example.com', false],
    ['a', false],
    ['@example.com', false],
    ['a@', false],
    ['x>\r\nRCPT TO:<root', false],
    ['a@b>', false],
    ['a<@b', false],
    ['b\xe9b@example.org', false],
    [`${'l'.repeat(65)}@example.org`, false],
  ])('%j → %s', (address, valid) => {
    expect(isSmtpMailbox(address)).toBe(valid);
  });
});

describe('envelope checks', () => {
  it('takes the null sender and wire-form mailboxes, refuses the rest with EENVELOPE', () => {
    expect(() => checkSender('')).not.toThrow();
    expect(() => checkSender('"john smith"@example.com')).not.toThrow();
    expect(() => checkSender('john smith@example.com')).toThrow(
      expect.objectContaining({
        code: 'EENVELOPE',
        message: 'invalid sender address "john smith@example.com"',
      }),
    );
  });

  it('takes a local user name as recipient, refuses one that would break the command', () => {
    expect(() => checkRecipient('alice')).not.toThrow();
    expect(() => checkRecipient('j\u00f6rg@example.org')).not.toThrow();
    for (const bad of ['alice>\r\nRSET', 'a<b', 'a\u0000'])
      expect(() => checkRecipient(bad)).toThrow(expect.objectContaining({ code: 'EENVELOPE' }));
  });
});
