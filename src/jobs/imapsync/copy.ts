/**
 * Copying the missing messages of one folder: bodies read in batches from the source (many
 * small messages per FETCH, large ones streamed into spools), appended to the destination in
 * batches (MULTIAPPEND where offered) with their flags and INTERNALDATE, while the next batch is
 * already being read. At most one batch per APPEND connection, plus the one being read, is held
 * at once, so memory stays bounded however large the folder or a message. Each APPEND's UIDs
 * are recorded as soon as the server answers; a message the destination refuses (quota, size)
 * is counted and the copy goes on. Every message sent is in `tally.unanswered` until its answer
 * comes, so a pass after a dropped connection can tell this run's copies from what was there; and
 * the copy never returns (or throws) while an APPEND it started is still unanswered.
 */
import type { AppendMessage } from '../../mail/imap-append.js';
import type { FetchedBody, MessageMeta } from '../../mail/imap-sync-fetch.js';
import { fetchBodies } from '../../mail/imap-sync-fetch.js';
import { storableFlags } from '../../mail/imap-sync-flags.js';
import { SPILL_THRESHOLD } from '../../mail/spool.js';
import type { CopyResult, RunScope } from './folder-types.js';
import type { FolderReport, FolderTally } from './report.js';
import type { SessionPair } from './sessions.js';

/** Bytes of small messages read (and appended) per batch. */
const BATCH_BYTES = 4 * 1024 * 1024;
/** Messages per batch: one FETCH and one MULTIAPPEND. */
const BATCH_MESSAGES = 100;

/** Where a folder's copies go, and where their pairs are recorded. */
export interface CopyTarget {
  source: string;
  destination: string;
  /** The destination folder's PERMANENTFLAGS. */
  permanentFlags?: ReadonlySet<string>;
  mapKey: string;
  idsKey: string;
}

/** Consecutive messages, small ones up to the batch limits, a large one alone. */
function batches(list: readonly MessageMeta[]): MessageMeta[][] {
  const out: MessageMeta[][] = [];
  let current: MessageMeta[] = [];
  let bytes = 0;
  for (const m of list) {
    const large = m.size > SPILL_THRESHOLD;
    if (current.length > 0 && (large || current.length >= BATCH_MESSAGES || bytes + m.size > BATCH_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += m.size;
    if (large) {
      out.push(current);
      current = [];
      bytes = 0;
    }
  }
  if (current.length > 0) out.push(current);
  return out;
}

async function dispose(bodies: readonly FetchedBody[]): Promise<void> {
  await Promise.all(bodies.map((b) => b.spool?.dispose()));
}

/** Copies `list` (ascending UIDs) from the open source folder into `target.destination`; counts into `fr`. */
export async function copyMessages(
  scope: RunScope,
  pair: SessionPair,
  target: CopyTarget,
  list: readonly MessageMeta[],
  fr: FolderReport,
  tally: FolderTally,
): Promise<CopyResult> {
  const { report, state, signal } = scope;
  const result: CopyResult = { pairs: [], unknownUids: false };
  let failure: unknown;
  const inflight: Promise<void>[] = [];

  const toAppend = (meta: MessageMeta, body: FetchedBody): AppendMessage => ({
    size: body.size,
    body: body.buffer ?? (() => body.spool!.stream()),
    flags: storableFlags(meta.flags, target.permanentFlags),
    internalDate: meta.internalDate,
    binary: body.binary,
  });

  const apps = await pair.appenders();
  const settle = async (items: { meta: MessageMeta; body: FetchedBody }[], turn: number): Promise<void> => {
    const app = apps[turn % apps.length]!;
    const multi = items.length > 1 && app.multiAppend;
    const groups = multi ? [items] : items.map((i) => [i]);
    for (const i of items) tally.unanswered.add(i.meta.uid);
    const answers = await Promise.all(
      groups.map((g) => {
        report.work.appendCommands++;
        return app.append(
          target.destination,
          g.map((i) => toAppend(i.meta, i.body)),
        );
      }),
    );
    for (const i of items) tally.unanswered.delete(i.meta.uid);
    const retry: typeof items = [];
    const copied: { src: number; dst: number; identity: string }[] = [];
    answers.forEach((answer, gi) => {
      const g = groups[gi]!;
      if (answer.ok) {
        for (const [j, i] of g.entries()) {
          tally.copied.add(i.meta.uid);
          fr.copied++;
          fr.bytes += i.body.size;
          const dst = answer.uids?.[j];
          if (dst === undefined) result.unknownUids = true;
          else copied.push({ src: i.meta.uid, dst, identity: i.meta.identity });
        }
      } else if (g.length > 1) {
        retry.push(...g); // MULTIAPPEND stored none of them (RFC 3502): find the one refused
      } else {
        const i = g[0]!;
        fr.refused++;
        if (answer.code === 'OVERQUOTA') report.quotaExceeded = true;
        const reason = `refused by the destination: ${answer.status} ${answer.code ? `[${answer.code}] ` : ''}${answer.text}`;
        report.error(target.source, reason, i.meta.uid);
        scope.ctx.log.warn(
          { folder: target.source, uid: i.meta.uid, size: i.body.size, reason },
          'message refused',
        );
      }
    });
    if (copied.length > 0) {
      result.pairs.push(...copied);
      await state.recordPairs(target.mapKey, target.idsKey, copied);
    }
    // Re-sent one per command: a single-message group's refusal is final.
    for (const i of retry) await settle([i], turn);
    scope.tick();
  };

  let turn = 0;
  try {
    for (const batch of batches(list)) {
      if (failure) break;
      signal.throwIfAborted();
      const small = batch.filter((m) => m.size <= SPILL_THRESHOLD).map((m) => m.uid);
      const large = batch.filter((m) => m.size > SPILL_THRESHOLD).map((m) => m.uid);
      const bodies = await fetchBodies(pair.src, small, large, report.work);
      const byUid = new Map(bodies.map((b) => [b.uid, b]));
      // A message expunged on the source meanwhile has no body: nothing to copy.
      const items = batch
        .filter((m) => byUid.has(m.uid))
        .map((meta) => ({ meta, body: byUid.get(meta.uid)! }));
      const done = settle(items, turn++)
        .catch((err: unknown) => void (failure ??= err))
        .finally(() => dispose(bodies));
      inflight.push(done);
      // One batch being appended per APPEND connection while the next one is read.
      if (inflight.length > apps.length) await inflight.shift();
    }
  } finally {
    // Also when reading failed (the source dropped): the APPENDs already sent are answered (and
    // counted) before the folder's next pass looks at the destination.
    await Promise.all(inflight);
  }
  if (failure) throw failure;
  return result;
}
