/**
 * bayes-stats: reads Rspamd's Bayes counters (`GET /stat`) and keeps learned spam and ham apart,
 * each against `min_learns` (Bayes classifies nothing until both reach it; the mail module's old
 * screen showed only their sum, which hides a Bayes starved of ham).
 *
 * Each reading is the job's result (the run record keeps the latest, with its time, for
 * `status`); `{prefix}:state:bayes-stats:history` keeps them all, a list, newest first, one week
 * at the default period.
 */
import { stat } from '../../mail/rspamd.js';
import type { JobContext } from '../types.js';

/** One reading of Rspamd's counters: the job's result. */
export interface BayesStatsResult extends Record<string, unknown> {
  spam: number;
  ham: number;
  minLearns: number;
  spamNeeded: number;
  hamNeeded: number;
  /** True once both spam and ham reached `minLearns`: Bayes is in use. */
  active: boolean;
}

const HISTORY_LENGTH = 1008;

export async function bayesStats(ctx: JobContext): Promise<BayesStatsResult> {
  const { rspamd, bayesLearn } = ctx.config;
  const counters = await stat({
    controllerUrl: rspamd.controllerUrl,
    password: rspamd.passwordFile?.reveal() ?? '',
    timeoutMs: rspamd.timeoutSeconds * 1000,
    signal: ctx.signal,
  });
  const min = bayesLearn.minLearns;
  const at = Date.now();
  const historyKey = ctx.key('bayes-stats', 'history');
  await ctx.redis
    .multi()
    .lpush(historyKey, JSON.stringify({ at, spam: counters.spam, ham: counters.ham }))
    .ltrim(historyKey, 0, HISTORY_LENGTH - 1)
    .exec();
  return {
    spam: counters.spam,
    ham: counters.ham,
    minLearns: min,
    spamNeeded: Math.max(0, min - counters.spam),
    hamNeeded: Math.max(0, min - counters.ham),
    active: counters.spam >= min && counters.ham >= min,
  };
}
