/**
 * The end of a folder pass: deletions the options ask for, on either side, and the checkpoint
 * that lets the next run skip the folder while nothing changes.
 */
import type { ImapFlow } from 'imapflow';
import { deleteUids, type OpenFolder } from '../../mail/imap-folders.js';
import { searchUids } from '../../mail/imap-sync-fetch.js';
import type { FolderStatus } from '../../mail/imap-sync-list.js';
import type { CopyResult, FolderJob, RunScope } from './folder-types.js';
import { DeleteLimitError } from './outcome.js';
import type { FolderReport } from './report.js';
import type { SessionPair } from './sessions.js';

const DAY_MS = 86_400_000;

/** What a folder pass's deletions work on. */
export interface DeletionInput {
  /** Destination UIDs no source message was paired with. */
  unpaired: number[];
  /** Source UID → destination UID of every verified copy. */
  map: ReadonlyMap<number, number>;
  mapKey: string;
  idsKey: string;
  /** Messages in each folder (the destination's with this pass's copies), the base of `deleteLimit.percent`. */
  dstSize: number;
  srcSize: number;
}

/**
 * The deletions the options ask for, both sides checked against the deletion limit before
 * either deletes anything:
 * - deleteOnDestination: destination messages no source message was paired with (within the
 *   `maxAgeDays` window, which bounds what the source side looked at);
 * - deleteOnSource: source messages whose copy is verified in the destination (paired: matched
 *   by identity, or appended with an APPENDUID), optionally only those older than N days.
 * Returns how many (would) go on each side.
 */
export async function deletions(
  scope: RunScope,
  pair: SessionPair,
  fr: FolderReport,
  d: DeletionInput,
): Promise<{ deletedDst: number; deletedSrc: number }> {
  const o = scope.task.options;
  const onDst =
    !o.deleteOnDestination || d.unpaired.length === 0
      ? []
      : o.maxAgeDays
        ? await uidsMatching(pair.dst, { since: new Date(Date.now() - o.maxAgeDays * DAY_MS) }, d.unpaired)
        : d.unpaired;
  const paired = [...d.map.keys()];
  const onSrc =
    o.deleteOnSource === false
      ? []
      : typeof o.deleteOnSource === 'object'
        ? await uidsMatching(
            pair.src,
            { before: new Date(Date.now() - o.deleteOnSource.olderThanDays * DAY_MS) },
            paired,
          )
        : paired;
  await withinDeleteLimit(scope, fr, 'destination', onDst, d.dstSize);
  await withinDeleteLimit(scope, fr, 'source', onSrc, d.srcSize);
  const state = scope.state;
  return {
    deletedDst: await deleteAndForget(pair.dst, onDst, o.dryRun, (u) => state.forgetIdentities(d.idsKey, u)),
    deletedSrc: await deleteAndForget(pair.src, onSrc, o.dryRun, (u) => state.forgetPairs(d.mapKey, u)),
  };
}

/** UIDs listed per side in a dry run's folder report. */
const LISTED = 1000;

/**
 * The deletion guardrail, before anything is deleted in the folder: more than
 * `deleteLimit.percent` of the folder's `folderSize` messages, or more than
 * `deleteLimit.messages`, throws {@link DeleteLimitError} (a dry run notes it instead). A dry
 * run lists the UIDs it would delete in the folder report and the trail.
 */
async function withinDeleteLimit(
  scope: RunScope,
  fr: FolderReport,
  side: 'destination' | 'source',
  doomed: readonly number[],
  folderSize: number,
): Promise<void> {
  if (doomed.length === 0) return;
  const o = scope.task.options;
  const { percent, messages } = o.deleteLimit;
  const folder = side === 'destination' ? fr.destination : fr.source;
  const option = side === 'destination' ? 'deleteOnDestination' : 'deleteOnSource';
  const share = Math.floor((folderSize * percent) / 100);
  const over = doomed.length > messages || doomed.length > share;
  const why = over
    ? `${option} would delete ${doomed.length} of the ${folderSize} messages in ${side} folder "${folder}", more than options.deleteLimit allows (${percent} % = ${share}, at most ${messages} messages)`
    : undefined;
  if (o.dryRun) {
    fr.wouldDelete = { ...fr.wouldDelete, [side]: doomed.slice(0, LISTED) };
    if (why) fr.deleteLimit = `${why}: a real run would stop here`;
    const listed = doomed.slice(0, LISTED).join(',');
    await scope.ctx.trail(`${folder}: would delete ${doomed.length} on ${side} (UIDs ${listed})`);
    return;
  }
  if (why)
    throw new DeleteLimitError(`deletion limit: ${why}; nothing deleted in that folder, the run stopped`);
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
