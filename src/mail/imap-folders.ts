/**
 * The remote side of getmail (and later imapsync): which folders to fetch, their UIDs and
 * sizes, a message streamed into a {@link MessageSpool} without marking it \Seen, and deleting
 * exactly the UIDs that were delivered. Every call runs on the mailbox opened last.
 */
import type { ImapFlow, ListResponse } from 'imapflow';
import { PermanentJobError, ProtocolError } from '../core/errors.js';
import type { MessageSpool } from './spool.js';
import { imapStep, refused } from './imap-errors.js';

/** UIDs per FETCH/STORE/EXPUNGE command: keeps command lines short for servers that cap them. */
const UIDS_PER_COMMAND = 500;
/** Bytes per partial FETCH of a message: fewer round trips than imapflow's 64 KB, still bounded. */
const DOWNLOAD_CHUNK_BYTES = 512 * 1024;

/** A selected folder. */
export interface OpenFolder {
  path: string;
  /** UIDVALIDITY as a decimal string (RFC 3501 2.3.1.1: UIDs are only valid together with it). */
  uidValidity: string;
  /** The UID the next message will get, when the server says (RFC 3501 2.3.1.1). */
  uidNext?: number;
  exists: number;
  /** True when the folder was opened read-only (asked for, or the server allows nothing else). */
  readOnly: boolean;
}

/** What {@link downloadTo} wrote. */
export interface DownloadResult {
  /** Bytes written to the spool. */
  bytes: number;
  /** The server's RFC822.SIZE; some servers (Exchange) report it inexactly, so it is not enforced. */
  expectedSize?: number;
}

/** `[1,2,3,7]` → `['1:3,7']`, at most {@link UIDS_PER_COMMAND} UIDs per set. */
export function uidSets(uids: readonly number[], perSet = UIDS_PER_COMMAND): string[] {
  const sorted = [...new Set(uids)].sort((a, b) => a - b);
  const sets: string[] = [];
  for (let i = 0; i < sorted.length; i += perSet) {
    const runs: string[] = [];
    const batch = sorted.slice(i, i + perSet);
    let start = batch[0]!;
    for (let j = 1; j <= batch.length; j++) {
      if (batch[j] === batch[j - 1]! + 1) continue;
      const end = batch[j - 1]!;
      runs.push(start === end ? `${start}` : `${start}:${end}`);
      start = batch[j]!;
    }
    sets.push(runs.join(','));
  }
  return sets;
}

function selectable(folder: ListResponse): boolean {
  return !folder.flags.has('\\Noselect') && !folder.flags.has('\\NonExistent');
}

/**
 * The folders to fetch. `'all'`: every selectable folder except the \Junk and \Trash ones
 * (RFC 6154 special-use, or what imapflow guesses from the name on servers without it): spam
 * and deleted mail are not wanted in the local INBOX. A list: exactly those paths (INBOX in any
 * case, RFC 3501 5.1), including Junk if named; a path that is missing or not selectable
 * throws `PermanentJobError` `ENOMAILBOX` naming it: a retry cannot create it.
 */
export async function listFetchFolders(
  client: ImapFlow,
  want: 'all' | readonly string[],
): Promise<ListResponse[]> {
  // Not list({ listOnly: true }): in imapflow 2.x that returns the entries before specialUse is
  // resolved, so \Junk would only be in `flags` and name-based guesses would be missing.
  const listed = (await imapStep(client, () => client.list())).filter(selectable);
  if (want === 'all') return listed.filter((f) => f.specialUse !== '\\Junk' && f.specialUse !== '\\Trash');
  const key = (path: string): string => (path.toUpperCase() === 'INBOX' ? 'INBOX' : path);
  const byPath = new Map(listed.map((f) => [key(f.path), f]));
  const missing = want.filter((path) => !byPath.has(key(path)));
  if (missing.length > 0) {
    const known = listed.map((f) => f.path).slice(0, 50);
    throw new PermanentJobError(
      `IMAP ${client.host}: no selectable folder ${missing.map((m) => JSON.stringify(m)).join(', ')}; ` +
        `the server has ${known.map((k) => JSON.stringify(k)).join(', ')}`,
      'ENOMAILBOX',
    );
  }
  return [...new Set(want.map(key))].map((path) => byPath.get(path)!);
}

/** Selects `path` (EXAMINE when `readOnly`, RFC 3501 6.3.2: nothing in it can change then). */
export async function openFolder(
  client: ImapFlow,
  path: string,
  { readOnly }: { readOnly: boolean },
): Promise<OpenFolder> {
  const box = await imapStep(client, () => client.mailboxOpen(path, { readOnly }));
  if (box.uidValidity === undefined || box.uidValidity === null) {
    throw new ProtocolError(
      `IMAP ${client.host}: ${path} has no UIDVALIDITY, so its UIDs cannot be trusted`,
      'EPROTOCOL',
    );
  }
  return {
    path: box.path,
    uidValidity: box.uidValidity.toString(),
    ...(box.uidNext ? { uidNext: box.uidNext } : {}),
    exists: box.exists,
    readOnly: box.readOnly === true,
  };
}

/** Every UID of the open folder, ascending (UID SEARCH ALL). */
export async function listUids(client: ImapFlow): Promise<number[]> {
  if (!client.mailbox) throw new Error('listUids: no folder is open');
  const uids = await imapStep(client, () => client.search({ all: true }, { uid: true }));
  if (!Array.isArray(uids)) throw refused(client, 'UID SEARCH ALL');
  return uids.sort((a, b) => a - b);
}

/** RFC822.SIZE of each UID; a UID expunged meanwhile is simply absent from the map. */
export async function sizesOf(client: ImapFlow, uids: readonly number[]): Promise<Map<number, number>> {
  const sizes = new Map<number, number>();
  for (const set of uidSets(uids)) {
    await imapStep(client, async () => {
      for await (const msg of client.fetch(set, { uid: true, size: true }, { uid: true })) {
        if (msg.size !== undefined) sizes.set(msg.uid, msg.size);
      }
    });
  }
  return sizes;
}

/**
 * Streams message `uid` of the open folder into `spool`, chunk by chunk (imapflow's download()
 * sends one `UID FETCH uid BODY.PEEK[]<offset.length>` per chunk): BODY.PEEK, unlike BODY[],
 * does not set \Seen (RFC 3501 6.4.5), and only one chunk is in memory at a time. The bytes are
 * the server's, unchanged. Resolves `undefined` when the message no longer exists. The spool is
 * not closed: the caller may have written trace headers before and closes it when done.
 */
export async function downloadTo(
  client: ImapFlow,
  uid: number,
  spool: MessageSpool,
): Promise<DownloadResult | undefined> {
  if (!client.mailbox) throw new Error('downloadTo: no folder is open');
  return imapStep(client, async () => {
    const download = await client.download(String(uid), undefined, {
      uid: true,
      chunkSize: DOWNLOAD_CHUNK_BYTES,
    });
    if (!download.content) return undefined;
    let bytes = 0;
    // for-await pulls one chunk at a time; imapflow waits for the stream to drain before it
    // asks for the next chunk, so a slow spool (disk) slows the download instead of buffering it.
    for await (const chunk of download.content as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      await spool.write(chunk);
    }
    const expectedSize = download.meta.expectedSize;
    return expectedSize === undefined ? { bytes } : { bytes, expectedSize };
  });
}

/**
 * Deletes exactly `uids` from the open (read-write) folder: UID STORE +FLAGS (\Deleted), then
 * UID EXPUNGE, which with UIDPLUS (RFC 4315 2.1) removes only the specified UIDs and leaves
 * messages someone else flagged \Deleted alone. Without UIDPLUS a plain EXPUNGE would remove
 * those too, so it is only sent when no other message is flagged \Deleted; otherwise the UIDs
 * stay flagged for the next expunge by any client. Resolves which of the two happened.
 */
export async function deleteUids(client: ImapFlow, uids: readonly number[]): Promise<'expunged' | 'flagged'> {
  if (uids.length === 0) return 'expunged';
  if (!client.mailbox || client.mailbox.readOnly) throw new Error('deleteUids: no folder is open read-write');
  const sets = uidSets(uids);
  if (client.capabilities.has('UIDPLUS')) {
    for (const set of sets) {
      // imapflow's messageDelete() is STORE + (UID) EXPUNGE; it reports a refusal as false.
      if (!(await imapStep(client, () => client.messageDelete(set, { uid: true })))) {
        throw refused(client, `UID STORE/UID EXPUNGE ${set}`);
      }
    }
    return 'expunged';
  }
  for (const set of sets) {
    if (!(await imapStep(client, () => client.messageFlagsAdd(set, ['\\Deleted'], { uid: true })))) {
      throw refused(client, `UID STORE ${set} +FLAGS (\\Deleted)`);
    }
  }
  const ours = new Set(uids);
  const flagged = await imapStep(client, () => client.search({ deleted: true }, { uid: true }));
  if (!Array.isArray(flagged)) throw refused(client, 'UID SEARCH DELETED');
  if (flagged.some((uid) => !ours.has(uid))) return 'flagged';
  // Only ours are \Deleted (a race with another client remains, which UIDPLUS would close).
  if (!(await imapStep(client, () => client.messageDelete(sets[0]!, { uid: true })))) {
    throw refused(client, 'EXPUNGE');
  }
  return 'expunged';
}
