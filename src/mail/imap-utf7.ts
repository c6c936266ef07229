/**
 * Mailbox names on the wire: modified UTF-7 (RFC 3501 5.1.3) and IMAP strings (RFC 3501 4.3).
 * imapflow does this for its own commands; our APPEND client (imap-wire.ts) needs it too.
 */

/** Printable US-ASCII stays as is (with `&` as `&-`); everything else goes base64'd in UTF-16BE. */
export function encodeMailboxName(name: string): string {
  let out = '';
  let pending: string[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    const utf16 = Buffer.from(pending.join(''), 'utf16le').swap16();
    out += `&${utf16.toString('base64').replace(/=+$/, '').replace(/\//g, ',')}-`;
    pending = [];
  };
  for (const ch of name) {
    const code = ch.codePointAt(0)!;
    if (code >= 0x20 && code <= 0x7e) {
      flush();
      out += ch === '&' ? '&-' : ch;
    } else {
      pending.push(ch);
    }
  }
  flush();
  return out;
}

/** The inverse of {@link encodeMailboxName}; malformed sequences are kept as they are. */
export function decodeMailboxName(encoded: string): string {
  return encoded.replace(/&([^-]*)-/g, (whole, b64: string) => {
    if (b64 === '') return '&';
    const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
    if (bytes.length % 2 !== 0) return whole;
    return Buffer.from(bytes).swap16().toString('utf16le');
  });
}

/**
 * An IMAP quoted string, or `undefined` when the value cannot be quoted (CR, LF or NUL, or
 * 8-bit bytes, which RFC 3501 quoted strings do not allow): send a literal instead.
 */
export function quoteString(value: string): string | undefined {
  if (/[\r\n\0\u0080-\uffff]/.test(value)) return undefined;
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 3501 `date-time` in UTC, e.g. `" 5-Jan-2020 09:03:04 +0000"` (date-day-fixed: space-padded). */
export function imapDateTime(d: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  const day = String(d.getUTCDate()).padStart(2, ' ');
  return `"${day}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000"`;
}

/** An atom for a keyword (RFC 3501 `flag-keyword`): no specials, no 8-bit. */
export function isAtom(value: string): boolean {
  // eslint-disable-next-line no-control-regex
  return value.length > 0 && !/[(){ %*"\\\]\x00-\x1f\x7f-\uffff]/.test(value);
}
