/**
 * The Junk side of a local mailbox: which folder is Junk, and expunging what has stayed there
 * longer than a retention period. Only the one folder found here is ever selected read-write;
 * nothing else in the mailbox is opened, searched or changed.
 */
import type { ImapFlow, ListResponse } from 'imapflow';
import { PermanentJobError, ProtocolError } from '../core/errors.js';
import { imapStep, refused } from './imap-errors.js';
import { deleteUids, uidSets } from './imap-folders.js';

const DAY_MS = 24 * 60 * 60 * 1000;

function selectable(folder: ListResponse): boolean {
  return !folder.flags.has('\\Noselect') && !folder.flags.has('\\NonExistent');
}

/**
 * The user's Junk folders: those the server itself marks `\Junk` (RFC 6154 SPECIAL-USE), never
 * imapflow's guess from a folder's name (a folder the user called "Spam" for something else
 * must not be cleaned). With `path`, exactly that folder (INBOX in any case, RFC 3501 5.1).
 * Returns `[]` when there is none; usually one.
 */
export async function findJunkFolders(client: ImapFlow, path?: string): Promise<string[]> {
  const listed = (await imapStep(client, () => client.list())).filter(selectable);
  if (path !== undefined) {
    const key = (p: string): string => (p.toUpperCase() === 'INBOX' ? 'INBOX' : p);
    return listed.filter((f) => key(f.path) === key(path)).map((f) => f.path);
  }
  return listed
    .filter((f) => f.flags.has('\\Junk') || (f.specialUse === '\\Junk' && f.specialUseSource === 'extension'))
    .map((f) => f.path);
}

/** What {@link expungeOlderThan} found and did in one folder. */
export interface ExpungeOutcome {
  /** Messages in the folder when it was opened. */
  examined: number;
  /** Messages saved before the cutoff (expunged, or that would be with `dryRun`). */
  old: number;
  /** Messages actually expunged (0 with `dryRun`). */
  expunged: number;
  /** True when the server lacks UIDPLUS and other \Deleted messages made us only flag ours. */
  flaggedOnly: boolean;
}

/** Options of {@link expungeOlderThan}. */
export interface ExpungeOptions {
  /** Messages whose INTERNALDATE is before this instant go. */
  cutoff: Date;
  /** Report only: the folder is opened read-only (EXAMINE) and nothing changes. */
  dryRun: boolean;
  /** UIDs per `UID STORE` / `UID EXPUNGE`. */
  batchSize: number;
  /** Checked between batches: a stop leaves the folder consistent (whole batches only). */
  signal?: AbortSignal;
}

/**
 * Expunges from `path` the messages saved (INTERNALDATE, RFC 3501 2.3.3) before `cutoff`.
 * `UID SEARCH BEFORE` compares dates only, in an unspecified time zone, so it is asked for one
 * day more than needed and each candidate's INTERNALDATE is then compared to the exact instant:
 * a message is never expunged even an hour early. Deletion is `UID STORE +FLAGS (\Deleted)`
 * then `UID EXPUNGE` of exactly those UIDs (UIDPLUS, RFC 4315 2.1), batch by batch.
 */
export async function expungeOlderThan(
  client: ImapFlow,
  path: string,
  opts: ExpungeOptions,
): Promise<ExpungeOutcome> {
  const box = await imapStep(client, () => client.mailboxOpen(path, { readOnly: opts.dryRun }));
  // The guard that keeps every later command inside Junk: the selected folder must be this one.
  if (box.path !== path) {
    throw new PermanentJobError(
      `IMAP ${client.host}: asked to open "${path}", got "${box.path}"`,
      'EMAILBOX',
    );
  }
  const outcome: ExpungeOutcome = { examined: box.exists, old: 0, expunged: 0, flaggedOnly: false };
  if (box.exists === 0) return outcome;
  const before = new Date(opts.cutoff.getTime() + DAY_MS);
  const candidates = await imapStep(client, () => client.search({ before }, { uid: true }));
  if (!Array.isArray(candidates)) throw refused(client, `UID SEARCH BEFORE in ${path}`);
  const old = await savedBefore(client, candidates, opts.cutoff);
  outcome.old = old.length;
  if (opts.dryRun || old.length === 0) return outcome;
  for (let i = 0; i < old.length; i += opts.batchSize) {
    opts.signal?.throwIfAborted();
    const batch = old.slice(i, i + opts.batchSize);
    if ((await deleteUids(client, batch)) === 'flagged') outcome.flaggedOnly = true;
    else outcome.expunged += batch.length;
  }
  return outcome;
}

/** The UIDs among `uids` whose INTERNALDATE is before `cutoff` (one FETCH per UID set). */
async function savedBefore(client: ImapFlow, uids: readonly number[], cutoff: Date): Promise<number[]> {
  const out: number[] = [];
  for (const set of uidSets(uids)) {
    await imapStep(client, async () => {
      for await (const msg of client.fetch(set, { uid: true, internalDate: true }, { uid: true })) {
        const saved = msg.internalDate === undefined ? undefined : new Date(msg.internalDate);
        if (!saved || Number.isNaN(saved.getTime())) {
          throw new ProtocolError(`IMAP ${client.host}: no INTERNALDATE for UID ${msg.uid}`, 'EPROTOCOL');
        }
        if (saved.getTime() < cutoff.getTime()) out.push(msg.uid);
      }
    });
  }
  return out.sort((a, b) => a - b);
}
