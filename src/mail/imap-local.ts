/**
 * The local side of getmail's exactly-once delivery: after a crash between LMTP's 250 and our
 * bookkeeping, the trace header tells whether the message is already in the local mailbox;
 * after state is lost, the trace headers of the whole mailbox tell what was fetched.
 */
import type { ImapFlow, ListResponse } from 'imapflow';
import { type ImapConnectOptions, connectImap, masterUserLogin } from './imap-connect.js';
import { imapStep, refused } from './imap-errors.js';
import { uidSets } from './imap-folders.js';
import { scanHeaderField } from './imap-header-scan.js';

/** How to reach the local Dovecot, and whose mailbox to search (as the master user). */
export interface LocalMailboxOptions extends Omit<ImapConnectOptions, 'user' | 'password'> {
  /** The mailbox owner, e.g. `alice`. */
  user: string;
  /** Dovecot's master user, e.g. `vmail`; logs in as `alice*vmail`. */
  masterUser: string;
  masterPassword: string;
  /**
   * When the delivery in doubt was attempted: only messages that arrived since then (a day of
   * slack for time zones) are searched. Keeps a miss cheap in a big mailbox, since Dovecot
   * compares the arrival date before it reads any header. Omit to search every message.
   */
  deliveredSince?: Date;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The unfolded values of every `name:` field in a raw header block (RFC 5322 2.2.3). */
function fieldValues(headers: Buffer, name: string): string[] {
  const unfolded = headers.toString('latin1').replace(/\r?\n(?=[ \t])/g, '');
  const prefix = `${name.toLowerCase()}:`;
  return unfolded
    .split(/\r?\n/)
    .filter((line) => line.toLowerCase().startsWith(prefix))
    .map((line) => line.slice(prefix.length).trim());
}

/**
 * UIDs in `mailbox` with a `header` field whose value is exactly `value`. UID SEARCH HEADER
 * matches any field that merely contains the string, case-insensitively (RFC 3501 6.4.4:
 * `acct 1/5` would match `acct 1/55`), so each hit's field is fetched (BODY.PEEK: nothing
 * becomes \Seen) and compared exactly. Opens `mailbox` read-only.
 */
export async function findByHeader(
  client: ImapFlow,
  mailbox: string,
  header: string,
  value: string,
  since?: Date,
): Promise<number[]> {
  const box = await imapStep(client, () => client.mailboxOpen(mailbox, { readOnly: true }));
  if (box.exists === 0) return [];
  const query = { header: { [header]: value }, ...(since ? { since } : {}) };
  const candidates = await imapStep(client, () => client.search(query, { uid: true }));
  if (!Array.isArray(candidates)) throw refused(client, `UID SEARCH HEADER ${header} in ${mailbox}`);
  const exact: number[] = [];
  for (const set of uidSets(candidates)) {
    await imapStep(client, async () => {
      for await (const msg of client.fetch(set, { uid: true, headers: [header] }, { uid: true })) {
        if (msg.headers && fieldValues(msg.headers, header).includes(value.trim())) exact.push(msg.uid);
      }
    });
  }
  return exact.sort((a, b) => a - b);
}

/** INBOX first, then the \Junk folders (where sieve files spam), then everything else. */
function searchOrder(folders: ListResponse[]): string[] {
  const rank = (f: ListResponse): number =>
    f.path.toUpperCase() === 'INBOX' ? 0 : f.specialUse === '\\Junk' ? 1 : 2;
  return folders
    .filter((f) => !f.flags.has('\\Noselect') && !f.flags.has('\\NonExistent'))
    .sort((a, b) => rank(a) - rank(b))
    .map((f) => f.path);
}

/**
 * Whether the local mailbox of `opts.user` holds a message with `header: value`, searched as
 * Dovecot's master user. Every selectable folder is searched, INBOX and \Junk first and
 * stopping at the first hit: a sieve rule may file the message anywhere and the user may have
 * moved or trashed it since, and a message found nowhere gets delivered again. The search runs
 * only for a delivery whose outcome is unknown, so a miss (one SEARCH per folder) is rare; pass
 * `deliveredSince` to keep it cheap in big mailboxes.
 */
export async function localMessageExists(
  opts: LocalMailboxOptions,
  header: string,
  value: string,
): Promise<boolean> {
  // SINCE compares dates only, in the server's time zone (RFC 3501 6.4.4): a day of slack.
  const since = opts.deliveredSince ? new Date(opts.deliveredSince.getTime() - DAY_MS) : undefined;
  return inLocalMailbox(opts, async (client) => {
    const folders = await imapStep(client, () => client.list());
    for (const path of searchOrder(folders)) {
      if ((await findByHeader(client, path, header, value, since)).length > 0) return true;
    }
    return false;
  });
}

/**
 * The topmost `header` field of each message, in every selectable folder of `opts.user`'s
 * mailbox, that has a `header` field containing `contains`. Topmost: a header added on top of
 * a message (as getmail adds its trace) comes before any the message brought along. UID SEARCH
 * HEADER is a case-insensitive substring match (RFC 3501 6.4.4): the caller checks values
 * exactly. The folders are listed with imapflow, the fields read by {@link scanHeaderField}.
 */
export async function topmostHeaderValues(
  opts: LocalMailboxOptions,
  header: string,
  contains: string,
): Promise<string[]> {
  const folders = await inLocalMailbox(opts, (client) => imapStep(client, () => client.list()));
  const { host, port, security, verifyCertificate, connectTimeoutMs, socketTimeoutMs, signal } = opts;
  const where = { host, port, security, verifyCertificate, connectTimeoutMs, socketTimeoutMs, signal };
  const login = { user: masterUserLogin(opts.user, opts.masterUser), password: opts.masterPassword };
  const fields = await scanHeaderField(where, login, searchOrder(folders), header, contains);
  return fields.flatMap((f) => fieldValues(f, header).slice(0, 1));
}

/** Runs `work` in `opts.user`'s mailbox, logged in as the master user, then logs out. */
async function inLocalMailbox<T>(
  opts: LocalMailboxOptions,
  work: (client: ImapFlow) => Promise<T>,
): Promise<T> {
  const { user, masterUser, masterPassword, deliveredSince: _, ...connection } = opts;
  const client = await connectImap({
    ...connection,
    user: masterUserLogin(user, masterUser),
    password: masterPassword,
  });
  try {
    return await work(client);
  } finally {
    // The answer is known (or the error is being thrown): a failed LOGOUT changes neither.
    await client.logout().catch(() => client.close());
  }
}
