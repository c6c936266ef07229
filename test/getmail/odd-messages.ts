/**
 * Odd but real-world messages, as raw bytes for a remote mailbox: broken line endings, NUL and
 * 8-bit bytes, missing or broken header sections, very long lines and headers, dot lines, odd
 * or duplicated headers, odd envelopes. Each must be delivered once, exactly as the remote
 * server hands it out (see odd-messages.test.ts).
 */

export interface OddMessage {
  /** Short name, unique: it also goes into the message (a header, or the body) to find it. */
  kind: string;
  bytes: Buffer;
  /** The envelope sender the local Dovecot must write as Return-Path (`<>` is the null sender). */
  returnPath?: string;
}

const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');

/** A small CRLF message with `headers` (the kind goes into Subject) and `body` as given. */
function crlf(kind: string, headers: string[], body: string): Buffer {
  return latin1([`Subject: odd ${kind}`, ...headers, '', body].join('\r\n'));
}

/** Every byte value, CR, LF and NUL included, in a body that claims to be binary. */
const ALL_BYTES = Buffer.from(Array.from({ length: 256 * 4 }, (_, i) => i % 256));

/** A 1 MB header: one `X-Huge:` field folded into 16 000 continuation lines. */
function hugeHeader(): Buffer {
  const folds = Array.from({ length: 16_000 }, (_, i) => `\t${String(i).padStart(5, '0')}-${'h'.repeat(56)}`);
  return latin1(['Subject: odd huge-header', `X-Huge: start`, ...folds, '', 'body\r\n'].join('\r\n'));
}

export const ODD_MESSAGES: OddMessage[] = [
  { kind: 'bare-lf', bytes: latin1('Subject: odd bare-lf\nX-A: b\n\nline 1\n.line 2\n\nend\n') },
  { kind: 'bare-cr', bytes: latin1('Subject: odd bare-cr\rX-A: b\r\rline 1\r.line 2\r\rend\r') },
  {
    kind: 'mixed-endings',
    bytes: latin1(
      'Subject: odd mixed-endings\r\nX-A: lf\nX-B: cr\r\r\nbody crlf\r\nbody lf\nbody cr\rcr cr lf\r\r\n  \t \r\n\n\r.\r\n.\n',
    ),
  },
  {
    kind: 'nul-bytes',
    bytes: Buffer.concat([
      latin1('Subject: odd nul-bytes\r\nX-Nul: a\0b\r\n\r\n'),
      Buffer.from([0, 0, 0x41, 0, 0x0d, 0x0a]),
    ]),
  },
  {
    kind: 'eight-bit-headers',
    bytes: Buffer.concat([
      Buffer.from(
        'Subject: odd eight-bit-headers Café — ünïcödé\r\nFrom: Jörg <jörg@exämple.org>\r\n',
        'utf8',
      ),
      latin1('X-Latin1: caf\xe9\r\nX-Broken: \xff\xfe\xc3\x28\r\n\r\nbody\r\n'),
    ]),
  },
  {
    kind: 'eight-bit-body',
    bytes: Buffer.concat([
      latin1('Subject: odd eight-bit-body\r\n\r\n'),
      latin1('\xff\xfe\x80\x81\xc3\x28 \xe9t\xe9\r\n'),
      Buffer.from('日本語\r\n'),
    ]),
  },
  {
    kind: 'no-separator',
    bytes: latin1(
      'Subject: odd no-separator\r\nThis body line follows the header at once\r\nand goes on.\r\n',
    ),
  },
  { kind: 'headers-only', bytes: latin1('Subject: odd headers-only\r\nX-A: b\r\n') },
  { kind: 'empty-body', bytes: latin1('Subject: odd empty-body\r\nX-A: b\r\n\r\n') },
  {
    kind: 'body-only',
    bytes: latin1('odd body-only: no header at all, just text\r\n\r\nsecond paragraph\r\n'),
  },
  {
    kind: 'empty-header-section',
    bytes: latin1(
      '\r\nMessage-ID: <in-the-body@odd.test>\r\n\r\nodd empty-header-section: the message starts with an empty line\r\n',
    ),
  },
  {
    kind: 'leading-whitespace',
    bytes: latin1(' odd leading-whitespace: the first line looks like a folded header\r\n\r\nbody\r\n'),
  },
  { kind: 'long-line', bytes: crlf('long-line', [], `${'x'.repeat(5000)}\r\n`) },
  {
    kind: 'very-long-line',
    bytes: crlf('very-long-line', [`X-Long: ${'y'.repeat(70_000)}`], `${'z'.repeat(100_000)}\r\n`),
  },
  { kind: 'huge-header', bytes: hugeHeader() },
  {
    kind: 'dot-lines',
    bytes: crlf(
      'dot-lines',
      [],
      '.\r\n..\r\n...\r\n.dot\r\n. space\r\nmiddle\r\n.\r\n.\r\nafter two dot lines\r\n.',
    ),
  },
  { kind: 'crlf-dot-crlf', bytes: crlf('crlf-dot-crlf', [], 'before\r\n.\r\nQUIT\r\n.\r\n') },
  { kind: 'leading-dot', bytes: latin1('.Subject: odd leading-dot\r\n\r\nbody\r\n') },
  { kind: 'no-final-newline', bytes: crlf('no-final-newline', [], 'the last line has no line ending') },
  { kind: 'trailing-cr', bytes: crlf('trailing-cr', [], 'the last line ends in a bare CR\r') },
  {
    kind: 'two-message-ids',
    bytes: crlf(
      'two-message-ids',
      ['Message-ID: <first@odd.test>', 'Message-ID: <second@odd.test>'],
      'body\r\n',
    ),
  },
  { kind: 'no-message-id', bytes: crlf('no-message-id', ['From: a@odd.test'], 'body\r\n') },
  {
    kind: 'odd-header-lines',
    bytes: crlf(
      'odd-header-lines',
      [
        'this header line has no colon',
        'Message-ID : <space-before-colon@odd.test>',
        'X-Empty:',
        ':no-name',
        'X-Tab\t: x',
      ],
      'body\r\n',
    ),
  },
  {
    kind: 'from-lines',
    bytes: latin1(
      'From someone@odd.test Sat Dec  5 05:00:00 2026\r\nSubject: odd from-lines\r\n\r\nFrom the start\r\n>From quoted\r\nFrom \r\n',
    ),
  },
  {
    kind: 'mime-binary',
    bytes: Buffer.concat([
      latin1(
        'Subject: odd mime-binary\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n',
      ),
      ALL_BYTES,
      latin1('\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'),
      Buffer.from('Grüße\r\n--b--\r\n'),
    ]),
  },
  {
    kind: 'return-path-space',
    bytes: crlf('return-path-space', ['Return-Path: <john smith@example.com>'], 'body\r\n'),
    returnPath: '<"john smith"@example.com>',
  },
  {
    kind: 'return-path-control',
    bytes: crlf('return-path-control', ['Return-Path: <bou\x01nce@example.com>'], 'body\r\n'),
    returnPath: '<>',
  },
  {
    kind: 'return-path-eight-bit',
    bytes: crlf('return-path-eight-bit', ['Return-Path: <b\xe9b@example.com>'], 'body\r\n'),
    returnPath: '<>',
  },
  {
    kind: 'return-path-two-addresses',
    bytes: crlf('return-path-two-addresses', ['Return-Path: <a@example.com> <b@example.com>'], 'body\r\n'),
    returnPath: '<>',
  },
  {
    kind: 'return-path-overlong',
    bytes: crlf('return-path-overlong', [`Return-Path: <${'l'.repeat(65)}@example.com>`], 'body\r\n'),
    returnPath: '<>',
  },
  {
    kind: 'two-return-paths',
    bytes: crlf(
      'two-return-paths',
      ['Return-Path: <last@example.com>', 'Return-Path: <first@example.com>'],
      'body\r\n',
    ),
    returnPath: '<last@example.com>',
  },
  { kind: 'zero-bytes', bytes: Buffer.alloc(0) },
];
