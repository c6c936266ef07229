/**
 * queue-monitor: the Postfix queue for the Queue page. Samples every 10 s by default (config
 * `schedules.queue-monitor` overrides) into a bounded time series; resends or deletes queued
 * messages on demand. The listing is a function, not a job: see listing.ts.
 */
import path from 'node:path';
import type { Config } from '../../config/schema.js';
import { POSTFIX_QUEUES } from '../../mail/postfix.js';
import { kilobytes, when } from '../format.js';
import { runPhrase, runSeverity, worst } from '../run-status.js';
import type { StatusContext, StatusRow } from '../types.js';
import { defineJob } from '../types.js';
import { queueSeries, recentActions, runQueueMonitor, samplingRun } from './processor.js';
import { totalOf } from './sample.js';
import { queueMonitorContract, queueMonitorTarget } from './schema.js';

export {
  listQueue,
  parseQueueListQuery,
  queueListQuery,
  type QueueListPage,
  type QueueListQuery,
} from './listing.js';
export { queueSeries, recentActions, type QueueAction } from './processor.js';
export { SharedQueueListing } from './shared-listing.js';
export type { SeriesPoint } from './series.js';

const DEFAULT_EVERY_SECONDS = 10;

/** How old the last sample may be before `status` flags it (never for cron or disabled sampling). */
function staleAfterMs(config: Config): number | undefined {
  const s = config.schedules['queue-monitor'] ?? { everySeconds: DEFAULT_EVERY_SECONDS };
  return 'everySeconds' in s ? Math.max(3 * s.everySeconds * 1000, 60_000) : undefined;
}

/**
 * One row: the queue's latest counts, when they were taken, and whether sampling fails (the run
 * record of the samples). Critical when the last sample is stale: no worker samples any more.
 */
async function queueStatus(ctx: StatusContext): Promise<StatusRow[]> {
  const [latest, run, actions] = await Promise.all([
    queueSeries(ctx).latest(),
    samplingRun(ctx),
    recentActions(ctx, 5),
  ]);
  const counts = latest
    ? POSTFIX_QUEUES.map((q) => `${q} ${latest.queues[q].count}`).join(', ') +
      ` (${kilobytes(totalOf(latest.queues).bytes)})`
    : 'no sample yet';
  const stale = staleAfterMs(ctx.config);
  const isStale = stale !== undefined && latest !== undefined && Date.now() - latest.t > stale;
  const state =
    run !== undefined && run.consecutiveFailures > 0
      ? `sampling ${runPhrase(run)}`
      : `sampled ${when(latest?.t)}${isStale ? ' (stale)' : ''}`;
  return [
    {
      target: 'queue',
      summary: `${counts}; ${state}`,
      severity: worst(runSeverity(run), isStale ? 'critical' : 'ok'),
      ...(run ? { run } : {}),
      details: { latest, recentActions: actions },
    },
  ];
}

export const queueMonitorJob = defineJob({
  ...queueMonitorContract,
  // Samples are quick and serialized by their target; room for admin actions beside them.
  concurrency: 4,
  process: runQueueMonitor,
  // Samples keep their record; an admin's resends and deletes share one, not one per queue id.
  runTarget: (p) => (p.action === 'sample' ? queueMonitorTarget(p) : 'actions'),
  defaultSchedule: { schedule: { everySeconds: DEFAULT_EVERY_SECONDS }, payload: { action: 'sample' } },
  status: queueStatus,
  hostCommands: (config) => [
    {
      command: path.join(config.postfix.commandDirectory, 'postqueue'),
      setting: 'postfix.commandDirectory',
      providedBy: 'Postfix',
    },
  ],
});
