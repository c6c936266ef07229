/**
 * The one map of job name → definition. Adding a job: a folder under src/jobs/, its
 * contract in contracts.ts, its definition here. Nothing else dispatches on job names.
 */
import { PermanentJobError } from '../core/errors.js';
import { getmailJob } from './getmail/index.js';
import { imapsyncJob } from './imapsync/index.js';
import { spamExpungeJob } from './spam-expunge/index.js';
import { bayesLearnJob } from './bayes-learn/index.js';
import { bayesStatsJob } from './bayes-stats/index.js';
import { freshclamJob } from './freshclam/index.js';
import { queueMonitorJob } from './queue-monitor/index.js';
import type { AnyJob } from './types.js';

export const registry: readonly AnyJob[] = [
  getmailJob,
  imapsyncJob,
  spamExpungeJob,
  bayesLearnJob,
  bayesStatsJob,
  freshclamJob,
  queueMonitorJob,
];

/** The definition of `name`; an unknown name fails loudly, listing the known ones. */
export function findJob(jobs: readonly AnyJob[], name: string): AnyJob {
  const def = jobs.find((j) => j.name === name);
  if (!def) {
    throw new PermanentJobError(
      `unknown job "${name}"; known jobs: ${jobs.map((j) => j.name).join(', ') || '(none)'}`,
      'EUNKNOWNJOB',
    );
  }
  return def;
}
