/**
 * Reading one folder for a sync, in batches (one UID FETCH per set of up to 500 UIDs, not a
 * command per message): identities with flags, INTERNALDATE and size; flags alone, only those
 * changed since a mod-sequence where the server has CONDSTORE (RFC 7162 3.1.4 CHANGEDSINCE);
 * bodies with BODY.PEEK[] (RFC 3501 6.4.5: the source is never marked \Seen), small ones many
 * per command, large ones streamed chunk by chunk into a spool.
 */
import type { ImapFlow } from 'imapflow';
import { imapStep, refused } from './imap-errors.js';
import { downloadTo, uidSets } from './imap-folders.js';
import { MessageSpool } from './spool.js';

/** Commands and bytes, counted so a run can show (and tests can check) how much it read. */
export interface ReadCounters {
  headerFetches: number;
  flagFetches: number;
  bodyFetches: number;
  bodyBytes: number;
}

/** What a sync needs to know of a message before deciding to copy it. */
export interface MessageMeta {
  uid: number;
  identity: string;
  flags: string[];
  internalDate: Date;
  size: number;
}

/**
 * When two messages are the same, as the caller defines it (the sync job's rule): read from
 * the header `fields`, or, when those do not tell (`fromFields` gives undefined), from the
 * whole header.
 */
export interface MessageIdentity {
  fields: readonly string[];
  fromFields(selected: Buffer): string | undefined;
  fromHeader(header: Buffer): string;
}

/**
 * Identity, flags, INTERNALDATE and RFC822.SIZE of `uids` in the open folder (expunged ones
 * are absent): one FETCH of the identity's header fields per batch, and one of the whole
 * header for the messages those fields do not identify.
 */
export async function fetchMeta(
  client: ImapFlow,
  uids: readonly number[],
  identify: MessageIdentity,
  counters: ReadCounters,
): Promise<MessageMeta[]> {
  const out: MessageMeta[] = [];
  const withoutId: MessageMeta[] = [];
  for (const set of uidSets(uids)) {
    counters.headerFetches++;
    const query = { uid: true, flags: true, internalDate: true, size: true, headers: [...identify.fields] };
    await imapStep(client, async () => {
      for await (const msg of client.fetch(set, query, { uid: true })) {
        const identity = msg.headers ? identify.fromFields(msg.headers) : undefined;
        const meta: MessageMeta = {
          uid: msg.uid,
          identity: identity ?? '',
          flags: [...(msg.flags ?? [])],
          internalDate: new Date(msg.internalDate ?? 0),
          size: msg.size ?? 0,
        };
        out.push(meta);
        if (!identity) withoutId.push(meta);
      }
    });
  }
  if (withoutId.length > 0) {
    const byUid = new Map(withoutId.map((m) => [m.uid, m]));
    for (const set of uidSets([...byUid.keys()])) {
      counters.headerFetches++;
      await imapStep(client, async () => {
        for await (const msg of client.fetch(set, { uid: true, headers: true }, { uid: true })) {
          const meta = byUid.get(msg.uid);
          if (meta) meta.identity = identify.fromHeader(msg.headers ?? Buffer.alloc(0));
        }
      });
    }
  }
  return out.filter((m) => m.identity !== '').sort((a, b) => a.uid - b.uid);
}

/**
 * Flags of `uids` (or of every message), or only of those whose flags changed since
 * `changedSince` when given (needs CONDSTORE, which imapflow enables when offered).
 */
export async function fetchFlags(
  client: ImapFlow,
  uids: readonly number[] | 'all',
  counters: ReadCounters,
  changedSince?: bigint,
): Promise<Map<number, string[]>> {
  const flags = new Map<number, string[]>();
  const sets = uids === 'all' ? ['1:*'] : uidSets(uids);
  for (const set of sets) {
    counters.flagFetches++;
    const opts = { uid: true, ...(changedSince !== undefined ? { changedSince } : {}) };
    await imapStep(client, async () => {
      for await (const msg of client.fetch(set, { uid: true, flags: true }, opts)) {
        flags.set(msg.uid, [...(msg.flags ?? [])]);
      }
    });
  }
  return flags;
}

/** UIDs of the open folder, all or by INTERNALDATE (SINCE/BEFORE compare dates only, RFC 3501 6.4.4). */
export async function searchUids(
  client: ImapFlow,
  when: { since?: Date; before?: Date } = {},
): Promise<number[]> {
  const query = when.since || when.before ? when : { all: true };
  const uids = await imapStep(client, () => client.search(query, { uid: true }));
  if (!Array.isArray(uids)) throw refused(client, 'UID SEARCH');
  return uids.sort((a, b) => a - b);
}

/** A message body read for copying: in memory (small) or in a spool (large). */
export interface FetchedBody {
  uid: number;
  size: number;
  /** Holds NUL bytes: must go as a literal8 (RFC 3516). */
  binary: boolean;
  buffer?: Buffer;
  spool?: MessageSpool;
}

/** A spool that notes NUL bytes on the way in, so a large body is not read twice to find out. */
class BinaryAwareSpool extends MessageSpool {
  binary = false;
  override async write(chunk: Buffer): Promise<void> {
    if (!this.binary && chunk.includes(0)) this.binary = true;
    return super.write(chunk);
  }
}

/**
 * Bodies of `small` in one command per UID set (each kept in memory: the caller bounds the
 * batch's bytes), and of `large` one at a time into spools (chunked partial FETCHes). Messages
 * expunged meanwhile are absent. Dispose the spools when done.
 */
export async function fetchBodies(
  client: ImapFlow,
  small: readonly number[],
  large: readonly number[],
  counters: ReadCounters,
): Promise<FetchedBody[]> {
  const out: FetchedBody[] = [];
  try {
    for (const set of uidSets(small)) {
      counters.bodyFetches++;
      await imapStep(client, async () => {
        for await (const msg of client.fetch(set, { uid: true, source: true }, { uid: true })) {
          if (!msg.source) continue;
          counters.bodyBytes += msg.source.length;
          out.push({
            uid: msg.uid,
            size: msg.source.length,
            binary: msg.source.includes(0),
            buffer: msg.source,
          });
        }
      });
    }
    for (const uid of large) {
      counters.bodyFetches++;
      const spool = new BinaryAwareSpool();
      const got = await downloadTo(client, uid, spool)
        .then(async (r) => (await spool.close(), r))
        .catch(async (err: unknown) => {
          await spool.dispose();
          throw err;
        });
      if (!got) {
        await spool.dispose();
        continue;
      }
      counters.bodyBytes += got.bytes;
      out.push({ uid, size: spool.size, binary: spool.binary, spool });
    }
    return out;
  } catch (err) {
    // The caller never sees these bodies: their spools would stay on disk.
    await Promise.all(out.map((b) => b.spool?.dispose()));
    throw err;
  }
}
