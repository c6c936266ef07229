/**
 * bayes-learn: one job per message a user moved into or out of Junk. Dovecot's IMAPSieve
 * spools each moved message (contrib/dovecot/); every worker queues its host's spool
 * (`watchSpool`). Other producers: `mailjobs enqueue learn`, `mailjobs-learn`, any BullMQ
 * client. Training progress against Rspamd's `min_learns` is the bayes-stats job's.
 */
import type { StatusContext, StatusRow } from '../types.js';
import { defineJob } from '../types.js';
import { LearnedStore } from './learned.js';
import { bayesLearn } from './processor.js';
import { bayesLearnContract } from './schema.js';
import { listSpool } from './spool.js';
import { watchSpool } from './spool-watcher.js';
import { describeTrainers } from './trainers.js';

/** Oldest spooled file older than this: the flusher is not getting through (Redis?). */
const SPOOL_ALERT_MS = 15 * 60_000;

async function trainersRow(ctx: StatusContext): Promise<StatusRow> {
  const trainers = ctx.config.bayesLearn.trainers;
  try {
    return {
      target: 'trainers',
      summary: await describeTrainers(trainers),
      severity: 'ok',
      details: { trainers },
    };
  } catch (err) {
    return {
      target: 'trainers',
      summary: `cannot tell: ${(err as Error).message}`,
      severity: 'warning',
      details: {},
    };
  }
}

async function spoolRow(ctx: StatusContext): Promise<StatusRow> {
  const dir = ctx.config.bayesLearn.spoolDir;
  const files = await listSpool(dir).catch(() => undefined);
  if (!files)
    return { target: 'spool', summary: `${dir}: not readable here`, severity: 'ok', details: { dir } };
  if (files.length === 0)
    return { target: 'spool', summary: `${dir}: empty`, severity: 'ok', details: { dir } };
  const oldest = Number(/(\d{13})-[^/]*$/.exec(files[0]!)?.[1] ?? Date.now());
  const minutes = Math.round((Date.now() - oldest) / 60_000);
  return {
    target: 'spool',
    summary: `${dir}: ${files.length} message(s) waiting to be queued, oldest ${minutes} min`,
    severity: Date.now() - oldest > SPOOL_ALERT_MS ? 'warning' : 'ok',
    details: { dir, files: files.length, oldestMovedAt: oldest },
  };
}

/** Rows: what was learned and dropped, who may train, what waits in the local spool. */
async function learnStatus(ctx: StatusContext): Promise<StatusRow[]> {
  const c = await new LearnedStore(ctx.redis, ctx.key, 1).counts();
  const n = (k: string) => c[k] ?? 0;
  const learned: StatusRow = {
    target: 'learned',
    summary:
      `${n('learned-spam')} spam, ${n('learned-ham')} ham learned; ${n('already-learned')} already learned, ` +
      `${n('not-a-trainer')} from non-trainers, ${n('too-big')} too big, ${n('too-few-words')} too short`,
    severity: 'ok',
    details: c,
  };
  return [learned, await trainersRow(ctx), await spoolRow(ctx)];
}

export const bayesLearnJob = defineJob({
  ...bayesLearnContract,
  concurrency: 4,
  process: bayesLearn,
  // One record for learning as a whole (Rspamd reachable, learns going through), not one per message.
  runTarget: () => 'learn',
  status: learnStatus,
  background: watchSpool,
});
