/**
 * The payload contract of every job: what other services may enqueue. Kept apart from the
 * processors so `mailjobs/client` and the JSON Schemas load no protocol code.
 */
import { getmailContract } from './getmail/schema.js';
import { imapsyncContract } from './imapsync/schema.js';
import { spamExpungeContract } from './spam-expunge/schema.js';
import { bayesLearnContract } from './bayes-learn/schema.js';
import { bayesStatsContract } from './bayes-stats/schema.js';
import { bayesBootstrapContract } from './bayes-bootstrap/schema.js';
import { freshclamContract } from './freshclam/schema.js';
import { queueMonitorContract } from './queue-monitor/schema.js';
import { alertsContract } from './alerts/schema.js';
import { quarantineContract } from './quarantine/schema.js';
import type { JobContract } from './types.js';

export const contracts = {
  getmail: getmailContract,
  imapsync: imapsyncContract,
  'spam-expunge': spamExpungeContract,
  'bayes-learn': bayesLearnContract,
  'bayes-stats': bayesStatsContract,
  'bayes-bootstrap': bayesBootstrapContract,
  freshclam: freshclamContract,
  'queue-monitor': queueMonitorContract,
  alerts: alertsContract,
  quarantine: quarantineContract,
} satisfies Record<string, JobContract>;

export type Contracts = typeof contracts;
export type JobName = keyof Contracts;
