/** The bayes-stats job's payload contract: nothing to say; it reads Rspamd's counters. */
import { z } from 'zod';
import type { JobContract } from '../types.js';

export const bayesStatsPayload = z.strictObject({});

export type BayesStatsPayload = z.output<typeof bayesStatsPayload>;

export const bayesStatsContract = {
  name: 'bayes-stats',
  summary: 'Record Rspamd Bayes training progress: spam and ham learned, each against min_learns',
  schema: bayesStatsPayload,
  target: () => 'rspamd',
  // Periodic: the next tick is the retry.
  retry: { attempts: 1, backoffSeconds: 60 },
} satisfies JobContract<typeof bayesStatsPayload>;
