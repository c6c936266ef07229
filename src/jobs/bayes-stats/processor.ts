/**
 * bayes-stats: reads Rspamd's Bayes counters (`GET /stat`) and keeps learned spam and ham apart,
 * each against `min_learns` (Bayes classifies nothing until both reach it; the mail module's old
 * screen showed only their sum, which hides a Bayes starved of ham).
 *
 * State under `{prefix}:state:bayes-stats:`: `last` (the latest snapshot, or the latest error)
 * and `history` (a list, newest first, one week at the default period).
 */
import { stat } from '../../mail/rspamd.js';
import type { JobContext } from '../types.js';

/** One reading of Rspamd's counters. */
export interface BayesSnapshot {
  at: number;
  spam: number;
  ham: number;
  minLearns: number;
  /** True once both spam and ham reached `minLearns`: Bayes is in use. */
  active: boolean;
}

export interface BayesStatsResult extends Record<string, unknown> {
  spam: number;
  ham: number;
  spamNeeded: number;
  hamNeeded: number;
  active: boolean;
}

/** The last snapshot or error, as status reads it. */
export interface LastStats {
  snapshot?: BayesSnapshot;
  error?: { at: number; message: string };
}

const HISTORY_LENGTH = 1008;

/** The latest snapshot or error, as `status` and `/metrics` read it. */
export async function readLastStats(ctx: Pick<JobContext, 'redis' | 'key'>): Promise<LastStats> {
  const raw = await ctx.redis.get(ctx.key('bayes-stats', 'last'));
  return raw ? (JSON.parse(raw) as LastStats) : {};
}

export async function bayesStats(ctx: JobContext): Promise<BayesStatsResult> {
  const { rspamd, bayesLearn } = ctx.config;
  const lastKey = ctx.key('bayes-stats', 'last');
  const previous = await readLastStats(ctx);
  let counters;
  try {
    counters = await stat({
      controllerUrl: rspamd.controllerUrl,
      password: rspamd.passwordFile?.reveal() ?? '',
      timeoutMs: rspamd.timeoutSeconds * 1000,
      signal: ctx.signal,
    });
  } catch (err) {
    const last: LastStats = { ...previous, error: { at: Date.now(), message: (err as Error).message } };
    await ctx.redis.set(lastKey, JSON.stringify(last));
    throw err;
  }
  const min = bayesLearn.minLearns;
  const snapshot: BayesSnapshot = {
    at: Date.now(),
    spam: counters.spam,
    ham: counters.ham,
    minLearns: min,
    active: counters.spam >= min && counters.ham >= min,
  };
  const historyKey = ctx.key('bayes-stats', 'history');
  await ctx.redis
    .multi()
    .set(lastKey, JSON.stringify({ snapshot } satisfies LastStats))
    .lpush(historyKey, JSON.stringify({ at: snapshot.at, spam: snapshot.spam, ham: snapshot.ham }))
    .ltrim(historyKey, 0, HISTORY_LENGTH - 1)
    .exec();
  return {
    spam: snapshot.spam,
    ham: snapshot.ham,
    spamNeeded: Math.max(0, min - snapshot.spam),
    hamNeeded: Math.max(0, min - snapshot.ham),
    active: snapshot.active,
  };
}
