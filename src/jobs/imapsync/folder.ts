/**
 * One source folder into its destination folder. A pass:
 *  1. {@link unchangedFolder}: nothing to do when neither side changed since the last complete
 *     pass (UIDVALIDITY, UIDNEXT, message count, and the source's HIGHESTMODSEQ, RFC 7162) and
 *     the options did not; the folder is not even opened;
 *  2. otherwise open both, drop state entries whose messages are gone on either side;
 *  3. read identities only of messages not yet paired (new ones; everything on a first run or
 *     after the state was lost) and pair them up, counted: a message twice in the source is
 *     twice in the destination;
 *  4. carry flag changes of paired messages (CHANGEDSINCE the last pass with CONDSTORE);
 *  5. copy what is missing, then delete what the options ask for on either side;
 *  6. record the checkpoint.
 * Nothing in a dry run writes to either mailbox or to the state.
 */
import { openFolder } from '../../mail/imap-folders.js';
import { fetchFlags, fetchMeta, type MessageMeta, searchUids } from '../../mail/imap-sync-fetch.js';
import { storeFlagChanges } from '../../mail/imap-sync-flags.js';
import type { FolderStatus } from '../../mail/imap-sync-list.js';
import { copyMessages } from './copy.js';
import { deletions, saveCheckpoint } from './folder-end.js';
import type { FolderJob, RunScope } from './folder-types.js';
import { messageIdentity } from './identity.js';
import { type FolderReport, type FolderTally, emptyFolderReport } from './report.js';
import type { SessionPair } from './sessions.js';
import type { ResolvedTask } from './task.js';

const DAY_MS = 86_400_000;

/** The options that change what a complete pass means; a checkpoint made under others is not trusted. */
export function fingerprint(task: ResolvedTask, destination: string): string {
  const o = task.options;
  return JSON.stringify([destination, o.maxAgeDays ?? 0, o.deleteOnDestination, o.deleteOnSource]);
}

function sameStatus(a: FolderStatus | undefined, b: FolderStatus | undefined, modseq: boolean): boolean {
  if (!a || !b) return false;
  const base = a.uidValidity === b.uidValidity && a.uidNext === b.uidNext && a.messages === b.messages;
  return base && (!modseq || (a.highestModseq !== undefined && a.highestModseq === b.highestModseq));
}

/**
 * The report of a folder that changed on neither side since its last complete pass (and whose
 * options did not change either): it need not be opened. Undefined when it must be synchronised.
 */
export function unchangedFolder(
  scope: Pick<RunScope, 'task' | 'checkpoints'>,
  job: FolderJob,
): FolderReport | undefined {
  const o = scope.task.options;
  const cp = scope.checkpoints.get(job.source);
  // A dry run reports what a pass would do; deleteOnSource by age has work as time passes.
  if (o.dryRun || typeof o.deleteOnSource === 'object' || !job.srcStatus) return undefined;
  if (cp?.fingerprint !== fingerprint(scope.task, job.destination)) return undefined;
  if (!sameStatus(cp.src, job.srcStatus, true) || !sameStatus(cp.dst, job.dstStatus, false)) return undefined;
  const fr = emptyFolderReport(job.source, job.destination);
  fr.onSource = fr.alreadyThere = job.srcStatus.messages;
  fr.unchanged = true;
  return fr;
}

/**
 * Runs one pass of `job` on `pair` (steps 2-6 above), counting into `fr`. After a reconnect the
 * folder gets another pass with the same `fr` and `tally`: what the earlier ones copied, updated
 * or deleted stays counted (live, for progress), what is on the source is counted anew, and a
 * message an earlier pass appended without hearing the answer is counted copied when found.
 */
export async function syncFolder(
  scope: RunScope,
  pair: SessionPair,
  job: FolderJob,
  fr: FolderReport,
  tally: FolderTally,
): Promise<void> {
  const { task, state, report, signal } = scope;
  const o = task.options;
  const refusedBefore = fr.refused;
  const cp = scope.checkpoints.get(job.source);
  const print = fingerprint(task, job.destination);
  const deleteSource = o.deleteOnSource !== false && !o.dryRun;
  const src = await openFolder(pair.src, job.source, { readOnly: !deleteSource });
  const srcBox = pair.src.mailbox || undefined;
  const srcModseq = srcBox && !srcBox.noModseq ? srcBox.highestModseq : undefined;
  const dst = job.dstExists ? await openFolder(pair.dst, job.destination, { readOnly: o.dryRun }) : undefined;
  const dstValidity = dst?.uidValidity ?? 'none';
  const permanentFlags = (pair.dst.mailbox || undefined)?.permanentFlags;
  const mapKey = state.mapKey(src.uidValidity, dstValidity, job.source);
  const idsKey = state.idsKey(dstValidity, job.destination);
  if (
    cp?.dst &&
    (cp.src.uidValidity !== src.uidValidity || cp.dst.uidValidity !== dstValidity) &&
    !o.dryRun
  ) {
    // UIDs of another UIDVALIDITY mean nothing (RFC 3501 2.3.1.1): pair again by identity.
    await state.dropKeys(
      state.mapKey(cp.src.uidValidity, cp.dst.uidValidity, job.source),
      ...(cp.dst.uidValidity !== dstValidity ? [state.idsKey(cp.dst.uidValidity, job.destination)] : []),
    );
  }
  const map = dst ? await state.loadMap(mapKey) : new Map<number, number>();
  const srcUids = await searchUids(pair.src);
  const dstUids = dst ? await searchUids(pair.dst) : [];
  fr.onSource = srcUids.length;

  // 2. pairs whose message is gone on either side are forgotten (a copy deleted locally is copied again)
  const srcSet = new Set(srcUids);
  const dstSet = new Set(dstUids);
  const stale = [...map].filter(([s, d]) => !srcSet.has(s) || !dstSet.has(d)).map(([s]) => s);
  for (const s of stale) map.delete(s);
  if (stale.length > 0 && !o.dryRun) await state.forgetPairs(mapKey, stale);
  const previouslyPaired = new Set(map.keys());

  // 3. identities of what is not paired yet, then counted matching
  const since = o.maxAgeDays ? new Date(Date.now() - o.maxAgeDays * DAY_MS) : undefined;
  const window = since ? await searchUids(pair.src, { since }) : srcUids;
  const unpairedSrc = window.filter((u) => !map.has(u));
  fr.tooOld = since ? srcUids.filter((u) => !map.has(u)).length - unpairedSrc.length : 0;
  const pairedDst = new Set(map.values());
  const unpairedDst = dstUids.filter((u) => !pairedDst.has(u));
  const srcMeta = await fetchMeta(pair.src, unpairedSrc, messageIdentity, report.work);
  const known = await state.identities(idsKey, unpairedDst);
  const fresh = await fetchMeta(
    pair.dst,
    unpairedDst.filter((u) => !known.has(u)),
    messageIdentity,
    report.work,
  );
  for (const m of fresh) known.set(m.uid, m.identity);
  if (fresh.length > 0 && !o.dryRun)
    await state.recordIdentities(idsKey, new Map(fresh.map((m) => [m.uid, m.identity])));
  const pool = new Map<string, number[]>();
  for (const uid of unpairedDst) {
    const id = known.get(uid);
    if (id) pool.set(id, [...(pool.get(id) ?? []), uid]);
  }
  const matched: { src: number; dst: number; identity: string }[] = [];
  const toCopy: MessageMeta[] = [];
  const srcFlags = new Map<number, string[]>();
  for (const m of srcMeta) {
    const dstUid = pool.get(m.identity)?.shift();
    if (dstUid === undefined) {
      toCopy.push(m);
      continue;
    }
    matched.push({ src: m.uid, dst: dstUid, identity: m.identity });
    map.set(m.uid, dstUid);
    srcFlags.set(m.uid, m.flags);
    // Stored by an earlier pass's APPEND whose answer the dropped connection lost: this run's copy.
    if (tally.unanswered.delete(m.uid)) {
      tally.copied.add(m.uid);
      fr.copied++;
      fr.bytes += m.size;
    }
  }
  if (matched.length > 0 && !o.dryRun) await state.recordPairs(mapKey, idsKey, matched);
  if (job.dedupe) {
    // Already in another folder of the task (a Gmail label, All Mail): not copied again.
    if (!o.dryRun)
      await state.claim(
        job.source,
        matched.map((m) => m.identity),
      );
    const elsewhere = await state.claim(
      job.source,
      toCopy.map((m) => m.identity),
      o.dryRun,
    );
    const before = toCopy.length;
    toCopy.splice(0, toCopy.length, ...toCopy.filter((m) => !elsewhere.has(m.identity)));
    fr.duplicates = before - toCopy.length;
  }
  // Pairs made by this run's copies (an earlier pass's) are not "already there".
  fr.alreadyThere = [...map.keys()].filter((s) => !tally.copied.has(s)).length;
  signal.throwIfAborted();

  // 4. flags: newly paired messages, and paired ones whose flags changed on the source
  const lastModseq = cp && cp.src.uidValidity === src.uidValidity ? cp.src.highestModseq : undefined;
  if (previouslyPaired.size > 0 && dst) {
    const changed =
      srcModseq !== undefined && lastModseq !== undefined
        ? await fetchFlags(pair.src, 'all', report.work, BigInt(lastModseq))
        : await fetchFlags(pair.src, [...previouslyPaired], report.work);
    for (const [uid, flags] of changed) if (previouslyPaired.has(uid)) srcFlags.set(uid, flags);
  }
  if (srcFlags.size > 0 && dst) {
    const wanted = new Map([...srcFlags].map(([s, flags]) => [map.get(s)!, flags]));
    const result = await storeFlagChanges(pair.dst, wanted, permanentFlags, report.work, o.dryRun);
    fr.flagsUpdated += result.changed;
  }

  report.plan(
    fr,
    toCopy.reduce((n, m) => n + m.size, 0),
  );
  // 5. copy, then deletions; 6. the checkpoint
  if (o.dryRun) {
    fr.copied += toCopy.length;
    fr.bytes += toCopy.reduce((n, m) => n + m.size, 0);
  }
  const copy =
    !o.dryRun && dst && toCopy.length > 0
      ? await copyMessages(scope, pair, { ...job, permanentFlags, mapKey, idsKey }, toCopy, fr, tally)
      : { pairs: [], unknownUids: false };
  for (const p of copy.pairs) map.set(p.src, p.dst);
  const { deletedDst, deletedSrc } = await deletions(scope, pair, fr, {
    unpaired: [...pool.values()].flat(),
    map,
    mapKey,
    idsKey,
    dstSize: dstUids.length + copy.pairs.length,
    srcSize: srcUids.length,
  });
  fr.deletedOnDestination += deletedDst;
  fr.deletedOnSource += deletedSrc;
  if (!o.dryRun && dst) {
    const refused = fr.refused - refusedBefore;
    await saveCheckpoint(scope, job, {
      src,
      srcModseq,
      dst,
      copy,
      refused,
      deletedDst,
      deletedSrc,
      fingerprint: print,
    });
  }
}
