import { describe, expect, it } from 'vitest';
import { parseQuarantineHeaders, releasedMessage } from './headers.js';

const CONTRACT = [
  'X-Quarantine-From: <sender@example.org>',
  'X-Quarantine-To: <alice@example.com>',
  'X-Quarantine-To: <bob@example.com>',
  'X-Quarantine-Queue-Id: 4ABC123DEF',
  'X-Quarantine-Action: reject',
  'X-Quarantine-Score: 1015.20/15.00',
  'X-Quarantine-Symbols: GTUBE(1000.00), R_DKIM_NA(0.00),',
  '\tMIME_GOOD(-0.10)',
  'X-Quarantine-Date: 2026-12-05T11:22:33Z',
];
const msg = (top: string[], bottom: string[] = [], body = 'Hello\r\n') =>
  [...top, 'From: Sender <sender@example.org>', 'Subject: hi', ...bottom, '', body].join('\r\n');

describe('parseQuarantineHeaders', () => {
  it('reads every field of the contract, folded symbols included', () => {
    expect(parseQuarantineHeaders(msg(CONTRACT))).toEqual({
      from: 'sender@example.org',
      to: ['alice@example.com', 'bob@example.com'],
      queueId: '4ABC123DEF',
      action: 'reject',
      score: 1015.2,
      threshold: 15,
      symbols: [
        { name: 'GTUBE', score: 1000 },
        { name: 'R_DKIM_NA', score: 0 },
        { name: 'MIME_GOOD', score: -0.1 },
      ],
      quarantinedAt: '2026-12-05T11:22:33Z',
    });
  });

  it('does not depend on position: the fields at the bottom read the same', () => {
    expect(parseQuarantineHeaders(msg([], CONTRACT))).toEqual(parseQuarantineHeaders(msg(CONTRACT)));
  });

  it('first occurrence wins for single-valued fields; names are case-insensitive', () => {
    const v = parseQuarantineHeaders(
      msg([...CONTRACT], ['x-quarantine-from: <forger@evil.test>', 'X-QUARANTINE-SCORE: 1.00/15.00']),
    );
    expect(v.from).toBe('sender@example.org');
    expect(v.score).toBe(1015.2);
  });

  it('the null sender is <>, and the message stays releasable', () => {
    const v = parseQuarantineHeaders(msg(['X-Quarantine-From: <>', 'X-Quarantine-To: <alice@example.com>']));
    expect(v.from).toBe('');
    expect(v.notReleasable).toBeUndefined();
  });

  it('no envelope: not releasable', () => {
    expect(parseQuarantineHeaders(msg([])).notReleasable).toBe(
      'no original envelope (X-Quarantine-From/To missing)',
    );
    expect(parseQuarantineHeaders(msg(['X-Quarantine-From: <a@b.example>'])).notReleasable).toMatch(
      /^no original envelope/,
    );
    expect(parseQuarantineHeaders(msg(['X-Quarantine-To: <a@b.example>'])).notReleasable).toMatch(
      /^no original envelope/,
    );
  });

  it('a bad address in From or To makes it not releasable, naming the field', () => {
    const bad = parseQuarantineHeaders(
      msg(['X-Quarantine-From: a@b.example', 'X-Quarantine-To: <c@d.example>']),
    );
    expect(bad.notReleasable).toMatch(/^X-Quarantine-From is not one address/);
    const two = parseQuarantineHeaders(
      msg(['X-Quarantine-From: <a@b.example>', 'X-Quarantine-To: <c@d.example>, <e@f.example>']),
    );
    expect(two.notReleasable).toMatch(/^X-Quarantine-To is not one address/);
    const inject = parseQuarantineHeaders(
      msg(['X-Quarantine-From: <a@b.example>', 'X-Quarantine-To: <c@d.example>\r\nRCPT TO:<x@y>']),
    );
    expect(inject.to).toEqual(['c@d.example']);
  });

  it('fields in the body are not headers', () => {
    const v = parseQuarantineHeaders(msg([], [], `${CONTRACT.join('\r\n')}\r\n`));
    expect(v.notReleasable).toMatch(/^no original envelope/);
    expect(v.symbols).toEqual([]);
  });

  it('duplicate recipients are delivered once', () => {
    const v = parseQuarantineHeaders(
      msg([
        'X-Quarantine-From: <a@b.example>',
        'X-Quarantine-To: <c@d.example>',
        'X-Quarantine-To: <C@d.example>',
      ]),
    );
    expect(v.to).toEqual(['c@d.example']);
  });
});

describe('releasedMessage', () => {
  it('removes every X-Quarantine-* field with its folded lines, adds the trace on top, keeps the rest byte for byte', () => {
    const body = 'X-Quarantine-From: <in the body stays>\r\n\r\n\xe9t\xe9\r\n';
    const raw = Buffer.from(msg(['Received: from x', ...CONTRACT], ['X-Other: 1'], body), 'latin1');
    const out = releasedMessage(raw, 'by admin at 2026-12-05T12:00:00Z; quarantine id 7-3');
    expect(out.toString('latin1')).toBe(
      [
        'X-Mailjobs-Released: by admin at 2026-12-05T12:00:00Z; quarantine id 7-3',
        'Received: from x',
        'From: Sender <sender@example.org>',
        'Subject: hi',
        'X-Other: 1',
        '',
        body,
      ].join('\r\n'),
    );
  });

  it("drops the quarantine delivery's Return-Path and Rspamd's X-Rspamd-Action, whatever their case", () => {
    const raw = Buffer.from(
      'Return-Path: <s@x.example>\r\nReceived: from x\r\nSubject: s\r\nx-rspamd-action: reject\r\nX-Quarantine-To: <a@b.c>\r\n\r\nReturn-Path: body\r\n',
    );
    expect(releasedMessage(raw, 't').toString()).toBe(
      'X-Mailjobs-Released: t\r\nReceived: from x\r\nSubject: s\r\n\r\nReturn-Path: body\r\n',
    );
  });

  it('keeps LF-only messages LF-only', () => {
    const out = releasedMessage(Buffer.from('X-Quarantine-To: <a@b.c>\nSubject: s\n\nbody\n'), 't');
    expect(out.toString()).toBe('X-Mailjobs-Released: t\nSubject: s\n\nbody\n');
  });
});
