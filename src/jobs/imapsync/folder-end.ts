/**
 * The end of a folder pass: deletions the options ask for, on either side, and the checkpoint
 * that lets the next run skip the folder while nothing changes.
 */
import type { ImapFlow } from 'imapflow';
import { deleteUids, type OpenFolder } from '../../mail/imap-folders.js';
import { searchUids } from '../../mail/imap-sync-fetch.js';
import type { FolderStatus } from '../../mail/imap-sync-list.js';
import type { CopyResult } from './copy.js';
import type { FolderJob, RunScope } from './folder.js';
import type { SessionPair } from './sessions.js';

const DAY_MS = 86_400_000;

/**
 * deleteOnDestination: destination messages no source message was paired with (within the
 * `maxAgeDays` window, which bounds what the source side looked at). Returns how many (would) go.
 */
export async function deleteOnDestination(
  scope: RunScope,
  pair: SessionPair,
  unpaired: number[],
  idsKey: string,
): Promise<number> {
  const o = scope.task.options;
  if (!o.deleteOnDestination || unpaired.length === 0) return 0;
  const doomed = o.maxAgeDays
    ? await uidsMatching(pair.dst, { since: new Date(Date.now() - o.maxAgeDays * DAY_MS) }, unpaired)
    : unpaired;
  return deleteAndForget(pair.dst, doomed, o.dryRun, (uids) => scope.state.forgetIdentities(idsKey, uids));
}

/**
 * deleteOnSource: source messages whose copy is verified in the destination (paired: matched by
 * identity, or appended with an APPENDUID), optionally only those older than N days.
 */
export async function deleteOnSource(
  scope: RunScope,
  pair: SessionPair,
  map: ReadonlyMap<number, number>,
  mapKey: string,
): Promise<number> {
  const o = scope.task.options;
  const paired = [...map.keys()];
  const verified =
    typeof o.deleteOnSource === 'object'
      ? await uidsMatching(
          pair.src,
          { before: new Date(Date.now() - o.deleteOnSource.olderThanDays * DAY_MS) },
          paired,
        )
      : paired;
  return deleteAndForget(pair.src, verified, o.dryRun, (uids) => scope.state.forgetPairs(mapKey, uids));
}

/** Those of `uids` that the server finds with `criteria` (a date bound of the options). */
async function uidsMatching(
  session: ImapFlow,
  criteria: { since?: Date; before?: Date },
  uids: number[],
): Promise<number[]> {
  const found = new Set(await searchUids(session, criteria));
  return uids.filter((u) => found.has(u));
}

/**
 * Deletes `uids` on one side and forgets what the state knew of them, unless this is a dry run.
 * Returns how many (would) go.
 */
async function deleteAndForget(
  session: ImapFlow,
  uids: number[],
  dryRun: boolean | undefined,
  forget: (uids: number[]) => Promise<void>,
): Promise<number> {
  if (!dryRun && uids.length > 0) {
    await deleteUids(session, uids);
    await forget(uids);
  }
  return uids.length;
}

/**
 * Records the folder as complete: the source as it was opened (what arrived since makes the next
 * run look again), the destination as this pass must have left it. When that cannot be predicted
 * (no UIDPLUS, refused messages to retry) the destination is left out, so the next run looks.
 */
export async function saveCheckpoint(
  scope: RunScope,
  job: FolderJob,
  pass: {
    src: OpenFolder;
    srcModseq: bigint | undefined;
    dst: OpenFolder;
    copy: CopyResult;
    /** This pass's refused messages and deletions. */
    refused: number;
    deletedDst: number;
    deletedSrc: number;
    fingerprint: string;
  },
): Promise<void> {
  const { src, srcModseq, dst, copy } = pass;
  const appendedMax = Math.max(0, ...copy.pairs.map((p) => p.dst));
  const predictable = !copy.unknownUids && pass.refused === 0 && dst.uidNext !== undefined;
  const dstAfter: FolderStatus | undefined = predictable
    ? {
        uidValidity: dst.uidValidity,
        uidNext: Math.max(dst.uidNext!, appendedMax + 1),
        messages: dst.exists + copy.pairs.length - pass.deletedDst,
      }
    : undefined;
  await scope.state.saveCheckpoint(job.source, {
    destination: job.destination,
    fingerprint: pass.fingerprint,
    src: {
      uidValidity: src.uidValidity,
      uidNext: src.uidNext ?? 0,
      messages: src.exists - pass.deletedSrc,
      // An expunge raises HIGHESTMODSEQ: leave it out, so the next pass looks again.
      ...(srcModseq !== undefined && pass.deletedSrc === 0 ? { highestModseq: srcModseq.toString() } : {}),
    },
    ...(dstAfter ? { dst: dstAfter } : {}),
    at: Date.now(),
  });
}
