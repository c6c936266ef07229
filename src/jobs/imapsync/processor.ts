/**
 * imapsync: one run of a task. Take its slots (slots.ts: the caps, a paused host; without them
 * the run is delayed), log in on both sides (failing fast, typed by side), list both trees with
 * their status in one round trip each, map and create folders, then synchronise the folders,
 * `imapsync.parallelFolders` at a time, largest first, each worker on its own connections
 * (Gmail's All Mail after the others when deduplicating). A dropped connection is reopened and
 * its folder resumed (the state says what is already there); a folder that fails otherwise is
 * reported and the others go on, except at the deletion limit or a throttling answer, which
 * stop the run. Cancelling (the job's AbortSignal) stops between messages; the next run
 * continues from the state.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ThrottledError } from '../../core/errors.js';
import { pauseOnDailyLimit, pausedText, pausedUntil } from '../account-pause.js';
import type { JobContext } from '../types.js';
import { syncFolder, unchangedFolder } from './folder.js';
import type { FolderJob, RunScope } from './folder-types.js';
import { planFolders } from './plan.js';
import { DeleteLimitError, SyncConnectionError, isConnectionFailure, outcomeOf } from './outcome.js';
import { FolderTally, type ImapsyncResult, SyncReport, emptyFolderReport } from './report.js';
import type { ImapsyncPayload } from './schema.js';
import { type SessionPair, openSessions } from './sessions.js';
import { SyncStateStore } from './state.js';
import { pauseHostOnThrottle, takeRunSlots } from './slots.js';
import { type ResolvedTask, resolveTask } from './task.js';

const PROGRESS_EVERY_MS = 1000;

/** Runs one imapsync job: resolves the task, syncs; the worker records how the run ended. */
export async function imapsync(
  payload: ImapsyncPayload,
  ctx: JobContext,
): Promise<ImapsyncResult | { skipped: string; task: string }> {
  const task = await resolveTask(payload, ctx);
  if ('disabled' in task) return { skipped: 'disabled', task: task.disabled };
  const paused = await pausedUntil(ctx, 'imapsync', task.target);
  if (paused) return { skipped: pausedText(paused), task: task.target };
  const retention = ctx.config.imapsync.stateRetentionDays * 86_400;
  const state = new SyncStateStore(ctx.redis, ctx.key, task.target, retention);
  const run = new SyncRun(task, ctx, state);
  // The run's slots (global and at its host), taken before any connection: a run's folder
  // workers share them, so no run waits on a slot its own peers hold. Without: delayed.
  const release = await takeRunSlots(ctx, task.remote.host);
  try {
    const result = await run.run();
    await ctx.progress(run.report.progress());
    return result;
  } catch (err) {
    // An abort's reason may be a plain string (the worker's shutdown marker).
    const error = err instanceof Error ? err : new Error(`imapsync ${task.target}: stopped (${String(err)})`);
    await pauseOnDailyLimit(ctx, 'imapsync', task.target, error).catch(() => undefined);
    throw ctx.signal.aborted ? error : await pauseHostOnThrottle(ctx, task.remote.host, error);
  } finally {
    await release();
    await state
      .extendRetention()
      .catch((e: unknown) => ctx.log.warn({ err: e }, 'could not extend the state'));
  }
}

class SyncRun {
  readonly report = new SyncReport();
  private readonly stop = new AbortController();
  private readonly signal: AbortSignal;
  private lastProgress = 0;
  /** Open connection pairs no folder worker uses now. */
  private readonly idle: SessionPair[] = [];

  constructor(
    private readonly task: ResolvedTask,
    private readonly ctx: JobContext,
    private readonly state: SyncStateStore,
  ) {
    this.signal = AbortSignal.any([ctx.signal, this.stop.signal]);
  }

  private get mode() {
    const { dryRun, justFolders, testLogin } = this.task.options;
    return { dryRun, justFolders, testLogin };
  }

  async run(): Promise<ImapsyncResult> {
    const { task, ctx, report } = this;
    const r = task.remote;
    if (r.security !== 'none' && !r.verifyCertificate) {
      ctx.log.warn({ host: r.host }, 'TLS certificate verification is off for this sync task');
    }
    const first = await openSessions(task, ctx, this.signal);
    const pairs: SessionPair[] = [first];
    this.idle.push(first);
    try {
      if (task.options.testLogin) {
        await ctx.trail(`login ok: source ${task.remote.host}, destination ${task.localUser}`);
        return report.result(task.target, this.mode);
      }
      const jobs = await planFolders(task, ctx, first, report);
      if (task.options.justFolders) return report.result(task.target, this.mode);
      const scope: RunScope = {
        task,
        ctx,
        signal: this.signal,
        state: this.state,
        report,
        checkpoints: await this.state.checkpoints(),
        tick: () => this.tick(),
      };
      // Folders unchanged on both sides since their last pass are reported without being opened.
      const queue = jobs.filter((job) => {
        const unchanged = unchangedFolder(scope, job);
        if (unchanged) report.folders.push(unchanged);
        return !unchanged;
      });
      report.foldersDone = report.folders.length;
      // Deduplicating across folders, All Mail comes after the labels: what they hold is claimed.
      for (const phase of [queue.filter((j) => !j.allMail), queue.filter((j) => j.allMail)]) {
        if (phase.length > 0) await this.workers(scope, phase, pairs);
      }
      return report.result(task.target, this.mode);
    } finally {
      await Promise.allSettled(pairs.map((p) => p.close()));
    }
  }

  /** Runs `queue` on `parallelFolders` workers; the first failure stops them all and is thrown. */
  private async workers(scope: RunScope, queue: FolderJob[], pairs: SessionPair[]): Promise<void> {
    const count = Math.min(this.ctx.config.imapsync.parallelFolders, queue.length);
    // Open connections go to the workers first: the first login's, then a phase's to the next.
    const settled = await Promise.allSettled(
      Array.from({ length: count }, () => this.worker(scope, queue, pairs, this.idle.shift())),
    );
    // The first failure stopped the other workers: report it, not what the stop caused.
    if (this.stop.signal.aborted) throw this.stop.signal.reason;
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Takes folders from `queue` until it is empty, reconnecting after dropped connections. */
  private async worker(
    scope: RunScope,
    queue: FolderJob[],
    pairs: SessionPair[],
    pair?: SessionPair,
  ): Promise<void> {
    try {
      for (let job = queue.shift(); job; job = queue.shift()) {
        this.signal.throwIfAborted();
        if (!pair) pairs.push((pair = await openSessions(this.task, this.ctx, this.signal)));
        pair = await this.folderWithRetries(scope, job, pair, pairs);
      }
      if (pair) this.idle.push(pair);
    } catch (err) {
      if (!this.stop.signal.aborted) this.stop.abort(err); // the others stop at their next check
      throw err;
    }
  }

  private async folderWithRetries(
    scope: RunScope,
    job: FolderJob,
    pair: SessionPair,
    pairs: SessionPair[],
  ): Promise<SessionPair> {
    const { report, ctx } = this;
    // One report for every pass of the folder: counts stay across reconnects, and are live.
    const fr = emptyFolderReport(job.source, job.destination);
    const tally = new FolderTally();
    report.running.set(job.source, fr);
    try {
      for (;;) {
        try {
          await syncFolder(scope, pair, job, fr, tally);
          report.folders.push(fr);
          const { source: folder, destination, unchanged: _u, ...counts } = fr;
          ctx.log.info({ folder, destination, ...counts }, 'folder synchronised');
          await ctx.trail(folderLine(fr, this.task.options.dryRun));
          return pair;
        } catch (err) {
          if (this.signal.aborted) throw this.ctx.signal.aborted ? this.ctx.signal.reason : err;
          // A typed end of the run, or the provider's limit (every folder would hit it too).
          if (outcomeOf(err) || err instanceof ThrottledError || err instanceof DeleteLimitError) throw err;
          if (!isConnectionFailure(err)) {
            const message = (err as Error).message;
            report.folders.push({ ...fr, error: message });
            report.error(job.source, message);
            ctx.log.warn({ folder: job.source, err }, 'folder failed; the others go on');
            return pair;
          }
          if (report.work.reconnects >= ctx.config.imapsync.maxReconnects)
            throw new SyncConnectionError(undefined, err as Error);
          report.work.reconnects++;
          ctx.log.warn({ folder: job.source, err: (err as Error).message }, 'connection lost; reconnecting');
          await pair.close();
          await sleep(Math.min(30_000, 1000 * 2 ** (report.work.reconnects - 1)), undefined, {
            signal: this.signal,
          });
          pairs.push((pair = await openSessions(this.task, this.ctx, this.signal)));
        }
      }
    } finally {
      report.running.delete(job.source);
      report.foldersDone++;
      this.tick(true);
    }
  }

  private tick(force = false): void {
    const now = Date.now();
    if (!force && now - this.lastProgress < PROGRESS_EVERY_MS) return;
    this.lastProgress = now;
    this.ctx.progress(this.report.progress()).catch(() => undefined);
  }
}

function folderLine(f: ReturnType<typeof emptyFolderReport>, dryRun: boolean): string {
  const would = dryRun ? 'would copy' : 'copied';
  const parts = [`${f.onSource} on source`, `${f.alreadyThere} already there`, `${f.copied} ${would}`];
  if (f.flagsUpdated) parts.push(`${f.flagsUpdated} flags ${dryRun ? 'to update' : 'updated'}`);
  if (f.deletedOnDestination) parts.push(`${f.deletedOnDestination} deleted on destination`);
  if (f.deletedOnSource) parts.push(`${f.deletedOnSource} deleted on source`);
  if (f.refused) parts.push(`${f.refused} refused`);
  if (f.tooOld) parts.push(`${f.tooOld} too old`);
  return `${f.source} → ${f.destination}: ${parts.join(', ')}`;
}
