/**
 * One header field of many messages, read over a plain IMAP connection ({@link ImapWire}).
 * imapflow parses a FETCH response in roughly 35–100 µs of CPU per message: half a second or
 * more for a mailbox of 10,000, where the server itself needs a fifth of that. Only the few
 * responses needed here are read: EXAMINE, UID SEARCH and the field's literal in UID FETCH.
 */
import { ProtocolError } from '../core/errors.js';
import { type AppendLogin, authenticate } from './imap-append.js';
import { uidSets } from './imap-folders.js';
import { encodeMailboxName, isAtom, quoteString } from './imap-utf7.js';
import { ImapWire, type Tagged, type WireOptions } from './imap-wire.js';

/** UIDs per FETCH: runs compress to `a:b`; sparse sets stay under Dovecot's 64 KB command line. */
const UIDS_PER_FETCH = 5000;

const FETCH_LITERAL = /^\* \d+ FETCH \(.*\{\d+\}/;

function check(answer: Tagged, what: string, host: string): void {
  if (answer.status !== 'OK')
    throw new ProtocolError(`IMAP ${host}: ${what} failed: ${answer.text}`.slice(0, 300), 'EPROTOCOL');
}

/**
 * The raw `header` lines (`BODY.PEEK[HEADER.FIELDS (header)]`: nothing becomes \Seen) of each
 * message in `paths` having a `header` field that contains `contains` (UID SEARCH HEADER, RFC
 * 3501 6.4.4: case-insensitive; the caller checks values exactly). A value that cannot be sent
 * as a quoted string (8-bit) is not searched for: every message's field is read instead.
 */
export async function scanHeaderField(
  where: WireOptions,
  login: AppendLogin,
  paths: readonly string[],
  header: string,
  contains: string,
): Promise<Buffer[]> {
  if (!isAtom(header))
    throw new ProtocolError(`IMAP: ${JSON.stringify(header)} is no header name`, 'EPROTOCOL');
  const wire = await ImapWire.connect(where);
  try {
    await authenticate(wire, where.host, login);
    const needle = quoteString(contains);
    const fields: Buffer[] = [];
    for (const path of paths) {
      const name = quoteString(encodeMailboxName(path));
      if (!name) throw new ProtocolError(`IMAP: mailbox ${JSON.stringify(path)} cannot be sent`, 'EPROTOCOL');
      let exists = 0;
      check(
        await wire.collect(`EXAMINE ${name}`, (r) => {
          const m = /^\* (\d+) EXISTS/i.exec(r);
          if (m) exists = Number(m[1]);
        }),
        `EXAMINE ${path}`,
        where.host,
      );
      if (exists === 0) continue;
      let sets = ['1:*'];
      if (needle) {
        const uids: number[] = [];
        const search = `UID SEARCH HEADER ${header} ${needle}`;
        const onSearch = (r: string): void => {
          if (/^\* SEARCH\b/i.test(r)) for (const n of r.slice(9).split(' ')) if (n) uids.push(Number(n));
        };
        check(await wire.collect(search, onSearch), `UID SEARCH in ${path}`, where.host);
        sets = uidSets(uids, UIDS_PER_FETCH);
      }
      for (const set of sets) {
        const fetch = `UID FETCH ${set} (BODY.PEEK[HEADER.FIELDS (${header})])`;
        const onFetch = (r: string, literals: Buffer[]): void => {
          if (FETCH_LITERAL.test(r) && literals[0]) fields.push(literals[0]);
        };
        check(await wire.collect(fetch, onFetch), `UID FETCH in ${path}`, where.host);
      }
    }
    return fields;
  } finally {
    await wire.logout();
  }
}
