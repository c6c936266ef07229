/**
 * bayes-stats: every 10 minutes by default (config `schedules.bayes-stats`), Rspamd's Bayes
 * training progress, spam and ham apart; `mailjobs status` shows it as one row.
 */
import type { StatusContext, StatusRow } from '../types.js';
import { defineJob } from '../types.js';
import { bayesStats, readLastStats } from './processor.js';
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

/** One row: the latest counters (with their age), or why they could not be read. */
async function progressStatus(ctx: StatusContext): Promise<StatusRow[]> {
  const last = await readLastStats(ctx);
  const s = last.snapshot;
  const failing = last.error !== undefined && (!s || last.error.at > s.at);
  const min = s?.minLearns ?? ctx.config.bayesLearn.minLearns;
  const minutes = s ? Math.round((Date.now() - s.at) / 60_000) : 0;
  const summary = s
    ? `${progressText(s.spam, s.ham, min)} (read ${minutes} min ago)`
    : 'no reading yet (bayes-stats has not run)';
  return [
    {
      target: 'bayes',
      summary: failing ? `${summary}; last read failed: ${last.error!.message}` : summary,
      alert: failing,
      details: { ...s, ...(last.error ? { lastError: last.error } : {}) },
    },
  ];
}

export { readLastStats } from './processor.js';

export const bayesStatsJob = defineJob({
  ...bayesStatsContract,
  concurrency: 1,
  process: (_payload, ctx) => bayesStats(ctx),
  defaultSchedule: { schedule: { everySeconds: 600 }, payload: {} },
  status: progressStatus,
});
