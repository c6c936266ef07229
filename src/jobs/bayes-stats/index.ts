/**
 * bayes-stats: every 10 minutes by default (config `schedules.bayes-stats`), Rspamd's Bayes
 * training progress, spam and ham apart; `mailjobs status` shows it as one row.
 */
import type { StatusContext, StatusRow } from '../types.js';
import { defineJob } from '../types.js';
import { RunRecordStore, type RunRecord } from '../../worker/run-record.js';
import { when } from '../format.js';
import { runPhrase, runSeverity } from '../run-status.js';
import { bayesStats, type BayesStatsResult } from './processor.js';
import { bayesStatsContract } from './schema.js';

function progressText(spam: number, ham: number, min: number): string {
  const counts = `spam ${spam}/${min}, ham ${ham}/${min}`;
  if (spam >= min && ham >= min) return `${counts}: Bayes is active`;
  const needs = [
    ...(spam < min ? [`${min - spam} more spam`] : []),
    ...(ham < min ? [`${min - ham} more ham`] : []),
  ];
  return `${counts}: not active yet, needs ${needs.join(' and ')}`;
}

/** The latest reading (the last success's counts in the run record), as status and `/metrics` read it. */
export async function readBayesReading(
  ctx: Pick<StatusContext, 'redis' | 'key'>,
): Promise<{ run?: RunRecord; reading?: Partial<BayesStatsResult> }> {
  const run = await new RunRecordStore(ctx.redis, ctx.key).read('bayes-stats', 'rspamd');
  if (run === undefined) return {};
  if (run.lastSuccessAt === undefined) return { run };
  return { run, reading: run.lastCounts as Partial<BayesStatsResult> };
}

/**
 * One row: the latest reading (the last success's counts in the run record) with its age, and
 * why the last reads failed, if they did.
 */
async function progressStatus(ctx: StatusContext): Promise<StatusRow[]> {
  const { run, reading } = await readBayesReading(ctx);
  const min = reading?.minLearns ?? ctx.config.bayesLearn.minLearns;
  const summary = reading
    ? `${progressText(reading.spam ?? 0, reading.ham ?? 0, min)} (read ${when(run?.lastSuccessAt)})`
    : 'no reading yet (bayes-stats has not run)';
  const failing = run !== undefined && run.consecutiveFailures > 0;
  return [
    {
      target: 'bayes',
      summary: failing ? `${summary}; reads ${runPhrase(run)}` : summary,
      severity: runSeverity(run),
      ...(run ? { run } : {}),
      details: reading ? { ...reading, minLearns: min, at: run?.lastSuccessAt } : {},
    },
  ];
}

export const bayesStatsJob = defineJob({
  ...bayesStatsContract,
  concurrency: 1,
  process: (_payload, ctx) => bayesStats(ctx),
  defaultSchedule: { schedule: { everySeconds: 600 }, payload: {} },
  status: progressStatus,
});
