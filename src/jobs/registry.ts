/**
 * The one map of job name → definition. Adding a job: a folder under src/jobs/, its
 * contract in contracts.ts, its loader in catalog.ts, its definition here. Nothing else
 * dispatches on job names. Importing this module loads every job's modules; the CLI uses
 * `catalog` (contracts, definitions loaded on demand) instead, re-exported here.
 */
import { getmailJob } from './getmail/index.js';
import { imapsyncJob } from './imapsync/index.js';
import { spamExpungeJob } from './spam-expunge/index.js';
import { bayesLearnJob } from './bayes-learn/index.js';
import { bayesStatsJob } from './bayes-stats/index.js';
import { bayesBootstrapJob } from './bayes-bootstrap/index.js';
import { freshclamJob } from './freshclam/index.js';
import { queueMonitorJob } from './queue-monitor/index.js';
import { alertsJob } from './alerts/index.js';
import { quarantineJob } from './quarantine/index.js';
import type { AnyJob } from './types.js';

export { catalog, contractOf, findJob, loadJob, loadJobs, type JobEntry, type JobSource } from './catalog.js';

export const registry: readonly AnyJob[] = [
  getmailJob,
  imapsyncJob,
  spamExpungeJob,
  bayesLearnJob,
  bayesStatsJob,
  bayesBootstrapJob,
  freshclamJob,
  queueMonitorJob,
  alertsJob,
  quarantineJob,
];
