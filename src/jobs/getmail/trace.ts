/**
 * The headers getmail adds (as getmail6 does: a `Received:` line for the retrieval, and our
 * `X-Mailjobs-Fetched:` trace used to recover from a crash), and a message's identity for
 * servers that change UIDVALIDITY or renumber UIDLs. Everything else is delivered byte for byte.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { smtpReversePath } from '../../mail/smtp-address.js';

export const TRACE_HEADER = 'X-Mailjobs-Fetched';

/**
 * `<account> <uidvalidity>/<uid>` for IMAP INBOX, `<account> <folder>:<uidvalidity>/<uid>` for
 * other folders (UIDs are per folder), `<account> pop3/<uidl>` for POP3. A trailing `;` ends the
 * value, so a substring search (IMAP SEARCH HEADER) for uid 5 does not match uid 55.
 */
export function traceValue(
  account: string,
  folder: string | undefined,
  validity: string,
  id: string,
): string {
  const where = folder && folder !== 'INBOX' ? `${encodeURIComponent(folder)}:${validity}` : validity;
  return `${account} ${where}/${id};`;
}

/** Where a trace value says its message came from: `folder` is `INBOX` when the value names none. */
export interface TracedMessage {
  folder: string;
  validity: string;
  id: string;
}

/**
 * The inverse of {@link traceValue} for `account`'s own traces; undefined for another
 * account's (`john@x.com` is not `john@x.com.au`) or a malformed value. After the account, a
 * value has no white space: folders are percent-encoded, IMAP UIDs are digits and POP3 UIDLs
 * are printable ASCII without spaces (RFC 1939 7, where `;` and `/` may occur: the last `;`
 * ends the value, the first `/` ends the folder part).
 */
export function parseTraceValue(account: string, value: string): TracedMessage | undefined {
  if (!value.startsWith(`${account} `)) return undefined;
  const m = /^(?:([^\s:/;]+):(\d+)|(\d+|pop3))\/([\x21-\x7e]+);$/.exec(value.slice(account.length + 1));
  if (!m) return undefined;
  try {
    const folder = m[1] === undefined ? 'INBOX' : decodeURIComponent(m[1]);
    return { folder, validity: m[2] ?? m[3]!, id: m[4]! };
  } catch {
    return undefined; // a malformed percent-encoding: not a value we wrote
  }
}

/** RFC 5322 date, e.g. `Tue, 25 Nov 2026 09:00:00 +0000`. */
export function rfc5322Date(d: Date): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}

export interface ReceivedInfo {
  remoteHost: string;
  protocol: 'pop3' | 'imap';
  tls: boolean;
  account: string;
  localUser: string;
  date: Date;
}

/** The retrieval's `Received:` line (RFC 5321 4.4), folded. */
export function receivedHeader(r: ReceivedInfo): string {
  const withProto = `${r.protocol.toUpperCase()}${r.tls ? 'S' : ''}`;
  return (
    `Received: from ${r.remoteHost} (account ${r.account})\r\n` +
    `\tby ${hostname()} (mailjobs getmail) with ${withProto}\r\n` +
    `\tfor <${r.localUser}>; ${rfc5322Date(r.date)}`
  );
}

/** Header lines to put before the message, CRLF-terminated. */
export function headerBlock(lines: string[]): Buffer {
  return Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'utf8');
}

/**
 * The raw header section: the bytes before the first empty line, without the line ending of
 * the last field (or all of `head` when it holds no empty line). A message that starts with an
 * empty line has an empty header section: what follows is body, whatever it looks like.
 */
export function headerSection(head: Buffer): Buffer {
  // latin1 maps each byte to one char, so string offsets are byte offsets.
  const end = /(?:^|\r?\n)\r?\n/.exec(head.toString('latin1'));
  return end ? head.subarray(0, end.index) : head;
}

/**
 * The unfolded value of the first `name:` header, if any. White space before the colon is
 * allowed (RFC 5322 4.5, obsolete syntax that old mailers still write).
 */
export function headerValue(section: Buffer, name: string): string | undefined {
  const text = section.toString('latin1').replace(/\r?\n[ \t]+/g, ' ');
  const re = new RegExp(`^${name}[ \\t]*:[ \\t]*(.*)$`, 'im');
  return re.exec(text)?.[1]?.trim();
}

/**
 * Message-ID + digest of the whole header: the identity used when UIDs cannot be trusted. A
 * message without a header is known by its first bytes instead: all such messages sharing one
 * identity would make every one after the first look delivered already.
 */
export function messageIdentity(head: Buffer): string {
  const section = headerSection(head);
  const messageId = headerValue(section, 'Message-ID') ?? '';
  const digested = section.length > 0 ? section : head;
  return createHash('sha256')
    .update(messageId)
    .update('\0')
    .update(digested)
    .digest('base64url')
    .slice(0, 32);
}

/**
 * The envelope sender for LMTP: the first Return-Path (the last one written) when it is a valid
 * RFC 5321 reverse-path, else the null sender (see {@link smtpReversePath}).
 */
export function envelopeSender(head: Buffer): string {
  return smtpReversePath(headerValue(headerSection(head), 'Return-Path'));
}

/**
 * `section` with its first `name:` header (and its folded continuation lines) replaced by
 * `line`; `line` goes on top when there was none (field order does not matter, RFC 5322 3.6,
 * and the top is a field's start even when `section` is only the first bytes of a longer
 * header). Used for the spam Subject prefix, the one change to a message's own bytes that an
 * admin can ask for.
 */
export function replaceHeader(section: Buffer, name: string, line: string): Buffer {
  // latin1 maps each byte to one char, so string offsets are byte offsets.
  const text = section.toString('latin1');
  const m = new RegExp(`^${name}[ \t]*:[^\n]*(?:\n[ \t][^\n]*)*`, 'im').exec(text);
  const replacement = Buffer.from(line.replace(/[\r\n]+/g, ' '), 'utf8');
  if (!m) return Buffer.concat([replacement, Buffer.from(text.includes('\r\n') ? '\r\n' : '\n'), section]);
  const cr = m[0].endsWith('\r') ? '\r' : ''; // keep the line's own CR of a CRLF ending
  return Buffer.concat([
    section.subarray(0, m.index),
    replacement,
    Buffer.from(cr),
    section.subarray(m.index + m[0].length),
  ]);
}
