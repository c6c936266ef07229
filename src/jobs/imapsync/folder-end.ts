/**
 * The end of a folder pass: deletions the options ask for, on either side, and the checkpoint
 * that lets the next run skip the folder while nothing changes.
 */
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
  let doomed = unpaired;
  if (o.maxAgeDays) {
    const recent = new Set(
      await searchUids(pair.dst, { since: new Date(Date.now() - o.maxAgeDays * DAY_MS) }),
    );
    doomed = doomed.filter((u) => recent.has(u));
  }
  if (!o.dryRun && doomed.length > 0) {
    await deleteUids(pair.dst, doomed);
    await scope.state.forgetIdentities(idsKey, doomed);
  }
  return doomed.length;
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
  let verified = [...map.keys()];
  if (typeof o.deleteOnSource === 'object') {
    const before = new Date(Date.now() - o.deleteOnSource.olderThanDays * DAY_MS);
    const old = new Set(await searchUids(pair.src, { before }));
    verified = verified.filter((u) => old.has(u));
  }
  if (o.dryRun || verified.length === 0) return verified.length;
  await deleteUids(pair.src, verified);
  await scope.state.forgetPairs(mapKey, verified);
  return verified.length;
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
