/**
 * The quarantine mailbox over IMAP, as Dovecot's master user (`<mailbox>*<masterUser>`): its
 * INBOX, the UIDs with UIDVALIDITY, the header block and envelope of new messages (BODY.PEEK:
 * nothing becomes \Seen), one message's bytes for a release, and deleting exactly one UID.
 */
import type { ImapFlow } from 'imapflow';
import type { Config } from '../../config/schema.js';
import { PermanentJobError } from '../../core/errors.js';
import { connectImap, deleteUids, listUids, masterUserLogin, openFolder, uidSets } from '../../mail/imap.js';
import { imapStep } from '../../mail/imap-errors.js';

/** The quarantine's INBOX, open. */
export interface QuarantineSession {
  client: ImapFlow;
  uidValidity: string;
}

/** A new message's facts as read from IMAP (the header block is parsed by the job). */
export interface FetchedHeaders {
  uid: number;
  size: number;
  savedAt: Date;
  subject: string;
  /** The RFC 5322 From: as shown (`Name <addr>` or `addr`). */
  headerFrom: string;
  messageId?: string;
  headers: Buffer;
}

/** The master password, or a clear refusal naming the setting. */
export function masterPassword(config: Config): string {
  const secret = config.dovecot.masterPasswordFile;
  if (!secret) {
    throw new PermanentJobError(
      'the quarantine is read as Dovecot master user: set dovecot.masterPasswordFile in the config',
      'ENOMASTER',
    );
  }
  return secret.reveal();
}

/**
 * Logs in as `<quarantine.mailbox>*<masterUser>`, opens INBOX (read-write, or with `readOnly`
 * EXAMINEd: nothing in it can change), runs `work`, logs out.
 */
export async function inQuarantine<T>(
  config: Config,
  signal: AbortSignal | undefined,
  work: (s: QuarantineSession) => Promise<T>,
  { readOnly = false }: { readOnly?: boolean } = {},
): Promise<T> {
  const { imap, masterUser } = config.dovecot;
  const client = await connectImap({
    ...imap,
    user: masterUserLogin(config.quarantine.mailbox, masterUser),
    password: masterPassword(config),
    ...(signal ? { signal } : {}),
  });
  try {
    const box = await openFolder(client, 'INBOX', { readOnly });
    return await work({ client, uidValidity: box.uidValidity });
  } finally {
    await client.logout().catch(() => client.close());
  }
}

/** Every UID of the open INBOX. */
export const quarantineUids = (s: QuarantineSession): Promise<number[]> => listUids(s.client);

const display = (a: { name?: string; address?: string } | undefined): string =>
  !a ? '' : a.name && a.address ? `${a.name} <${a.address}>` : (a.address ?? a.name ?? '');

/** The header block, envelope, size and INTERNALDATE of `uids` (absent when expunged meanwhile). */
export async function fetchHeaders(s: QuarantineSession, uids: readonly number[]): Promise<FetchedHeaders[]> {
  const out: FetchedHeaders[] = [];
  const query = { uid: true, size: true, internalDate: true, envelope: true, headers: true } as const;
  for (const set of uidSets(uids)) {
    await imapStep(s.client, async () => {
      for await (const m of s.client.fetch(set, query, { uid: true })) {
        const saved = m.internalDate instanceof Date ? m.internalDate : new Date(m.internalDate ?? 0);
        out.push({
          uid: m.uid,
          size: m.size ?? 0,
          savedAt: saved,
          subject: m.envelope?.subject ?? '',
          headerFrom: display(m.envelope?.from?.[0]),
          ...(m.envelope?.messageId ? { messageId: m.envelope.messageId } : {}),
          headers: m.headers ?? Buffer.alloc(0),
        });
      }
    });
  }
  return out.sort((a, b) => a.uid - b.uid);
}

/** The whole message `uid` (BODY.PEEK[]), or undefined when it is no longer there. */
export async function fetchSource(s: QuarantineSession, uid: number): Promise<Buffer | undefined> {
  return imapStep(s.client, async () => {
    const m = await s.client.fetchOne(String(uid), { uid: true, source: true }, { uid: true });
    return m && m.source ? m.source : undefined;
  });
}

/** Expunges exactly `uids` (UID EXPUNGE with UIDPLUS, see `deleteUids`). */
export async function expungeUids(s: QuarantineSession, uids: readonly number[]): Promise<void> {
  if ((await deleteUids(s.client, uids)) === 'flagged') {
    throw new PermanentJobError(
      'the quarantine mailbox has no UIDPLUS and other messages flagged \\Deleted: ours stay flagged only',
      'ENOUIDPLUS',
    );
  }
}
