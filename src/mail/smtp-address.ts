/**
 * RFC 5321 mailboxes as they go on the wire in `MAIL FROM:<...>`, and the reverse-path made
 * from a message's `Return-Path` header. Everything is ASCII: a value that only SMTPUTF8
 * (RFC 6531) could carry is not a mailbox here.
 */
import { ProtocolError } from '../core/errors.js';

/** RFC 5321 4.5.3.1.1: a local part is at most 64 octets. */
const MAX_LOCAL_PART = 64;
/** RFC 5321 4.5.3.1.3: a path is at most 256 octets, its angle brackets included. */
const MAX_PATH = 256;
/** RFC 5321 4.5.3.1.2. */
const MAX_DOMAIN = 255;

/** RFC 5321 4.1.2 Dot-string: atoms of atext joined by single dots. */
const DOT_STRING = /^[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*$/;
/** RFC 5321 4.1.2 Quoted-string: qtextSMTP or quoted-pairSMTP between double quotes. */
const QUOTED_STRING = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"$/;
/** RFC 5321 4.1.2 sub-domain: Let-dig [Ldh-str], at most 63 octets (RFC 1035 2.3.4). */
const SUB_DOMAIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/** RFC 5321 4.1.3 address literal, general form: `[` dcontent `]` (IPv4 and IPv6 fit it). */
const ADDRESS_LITERAL = /^\[[\x21-\x5a\x5e-\x7e]+\]$/;
/**
 * What a Return-Path's unquoted local part may hold: atext, dots and spaces. Beyond a Dot-string
 * this lets through what senders put there unquoted (`john smith`, `john..doe`), which a
 * Quoted-string carries; RFC 5322's specials (`<>,;:@` ...) stay out, they end or join addresses.
 */
const LOOSE_LOCAL_PART = /^[\w!#$%&'*+/=?^`{|}~. -]+$/;
/** A Quoted-string at the start of a path, then what follows it. */
const LEADING_QUOTED = /^("(?:[^"\\]|\\.)*")(.*)$/s;
/** RFC 5321 4.1.2 / Appendix C: an obsolete source route (`@a,@b:`), to be ignored. */
const SOURCE_ROUTE = /^@[^,:@]+(?:,@[^,:@]+)*:/;

function isDomain(domain: string): boolean {
  if (domain.length > MAX_DOMAIN) return false;
  return ADDRESS_LITERAL.test(domain) || domain.split('.').every((label) => SUB_DOMAIN.test(label));
}

/** `local@domain` in wire form, if it fits the RFC 5321 limits. */
function mailbox(local: string, domain: string): string | undefined {
  const encoded = DOT_STRING.test(local) ? local : `"${local.replace(/["\\]/g, '\\$&')}"`;
  const path = `${encoded}@${domain}`;
  if (encoded.length > MAX_LOCAL_PART || path.length + 2 > MAX_PATH || !isDomain(domain)) return undefined;
  return path;
}

/**
 * True when `address` is an RFC 5321 Mailbox as sent on the wire (`Local-part "@" Domain`,
 * the local part a Dot-string or a Quoted-string) within the length limits: what may go
 * between the brackets of `MAIL FROM:<...>` without changing the command.
 */
export function isSmtpMailbox(address: string): boolean {
  const at = address.lastIndexOf('@');
  if (at <= 0) return false;
  const local = address.slice(0, at);
  if (!DOT_STRING.test(local) && !QUOTED_STRING.test(local)) return false;
  return local.length <= MAX_LOCAL_PART && address.length + 2 <= MAX_PATH && isDomain(address.slice(at + 1));
}

/**
 * The envelope sender for a `Return-Path` header value (RFC 5322 3.6.7 `<addr-spec>`, unfolded):
 * the mailbox in wire form, its local part quoted when it needs to be (`<john smith@example.com>`
 * → `"john smith"@example.com`), or `''`, the null sender, for `<>` and for anything that is not
 * exactly one valid path: control characters, 8-bit bytes, two addresses, a path or local part
 * over the RFC 5321 limits, a malformed domain. A message that claims no usable sender is still
 * delivered; a bounce address is only worth keeping if a server would accept it.
 */
export function smtpReversePath(returnPath: string | undefined): string {
  const inner = /^[ \t]*<(.*)>[ \t]*$/s.exec(returnPath ?? '')?.[1]?.trim();
  if (!inner) return '';
  const path = inner.replace(SOURCE_ROUTE, '');
  let local: string;
  let domain: string;
  const quoted = LEADING_QUOTED.exec(path);
  if (quoted) {
    const [, text = '', rest = ''] = quoted;
    if (!QUOTED_STRING.test(text) || !rest.startsWith('@')) return '';
    local = text.slice(1, -1).replace(/\\(.)/g, '$1');
    domain = rest.slice(1);
  } else {
    const at = path.lastIndexOf('@');
    local = path.slice(0, at);
    domain = path.slice(at + 1);
    if (at <= 0 || !LOOSE_LOCAL_PART.test(local)) return '';
  }
  if (local === '') return '';
  return mailbox(local, domain) ?? '';
}

function invalidAddress(address: string, role: string): ProtocolError {
  return new ProtocolError(`invalid ${role} address ${JSON.stringify(address)}`, 'EENVELOPE');
}

/**
 * Throws `EENVELOPE` for a sender that is neither `''` (the null sender) nor an RFC 5321 mailbox
 * in wire form: a server would refuse it (`501 5.5.4 Invalid FROM`), or it could break the command.
 */
export function checkSender(address: string): void {
  if (address !== '' && !isSmtpMailbox(address)) throw invalidAddress(address, 'sender');
}

/**
 * Throws `EENVELOPE` for a recipient that could end the command line early (CRLF injection) or
 * break `<...>`. A recipient is a local user as the server's user database knows it (LMTP), not
 * always a mailbox.
 */
export function checkRecipient(address: string): void {
  if (/[\p{Cc}<>]/u.test(address)) throw invalidAddress(address, 'recipient');
}
