/**
 * Reading a local mailbox's messages to train a filter on (bayes-bootstrap): the UIDs of a
 * folder that match a search, and their raw bytes, read without changing anything. The folder
 * is opened read-only (EXAMINE, RFC 3501 6.3.2) and bodies are fetched with BODY.PEEK[], so no
 * message becomes \Seen. Which folder and which messages count as spam or ham is the job's.
 */
import type { ImapFlow, SearchObject } from 'imapflow';
import { imapStep, refused } from './imap-errors.js';
import { uidSets } from './imap-folders.js';

/** One message as read for training. */
export interface TrainingMessage {
  uid: number;
  /** INTERNALDATE: when the message was saved into the mailbox. */
  savedAt: Date;
  source: Buffer;
}

/**
 * Opens `folder` read-only and returns the UIDs matching `query` (imapflow's search object, e.g.
 * `{ seen: true, before: date }`; BEFORE compares dates only, RFC 3501 6.4.4), newest first.
 */
export async function searchFolder(client: ImapFlow, folder: string, query: SearchObject): Promise<number[]> {
  const box = await imapStep(client, () => client.mailboxOpen(folder, { readOnly: true }));
  if (box.exists === 0) return [];
  const uids = await imapStep(client, () => client.search(query, { uid: true }));
  if (!Array.isArray(uids)) throw refused(client, `UID SEARCH in ${folder}`);
  return uids.sort((a, b) => b - a);
}

/**
 * The messages `uids` of the folder opened by {@link searchFolder}, in one FETCH (the caller
 * bounds how many, hence the memory). A message expunged meanwhile is absent.
 */
export async function readMessages(client: ImapFlow, uids: readonly number[]): Promise<TrainingMessage[]> {
  const out: TrainingMessage[] = [];
  for (const set of uidSets(uids)) {
    await imapStep(client, async () => {
      const query = { uid: true, internalDate: true, source: true };
      for await (const msg of client.fetch(set, query, { uid: true })) {
        if (!msg.source) continue;
        const savedAt = msg.internalDate instanceof Date ? msg.internalDate : new Date(msg.internalDate ?? 0);
        out.push({ uid: msg.uid, savedAt, source: msg.source });
      }
    });
  }
  const order = new Map(uids.map((u, i) => [u, i]));
  return out.sort((a, b) => order.get(a.uid)! - order.get(b.uid)!);
}
