/**
 * queue-monitor: the Postfix queue for the Queue page. Samples every 10 s by default (config
 * `schedules.queue-monitor` overrides) into a bounded time series; resends or deletes queued
 * messages on demand. The listing is a function, not a job: see listing.ts.
 */
import path from 'node:path';
import type { Config } from '../../config/schema.js';
import { POSTFIX_QUEUES } from '../../mail/postfix.js';
import { ago, kilobytes } from '../format.js';
import type { StatusContext, StatusRow } from '../types.js';
import { defineJob } from '../types.js';
import { queueSeries, recentActions, runQueueMonitor, sampleStats } from './processor.js';
import { totalOf } from './sample.js';
import { queueMonitorContract } from './schema.js';

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

/** One row: the queue's latest counts, when they were taken, and whether sampling fails. */
async function queueStatus(ctx: StatusContext): Promise<StatusRow[]> {
  const [latest, stats, actions] = await Promise.all([
    queueSeries(ctx).latest(),
    sampleStats(ctx).read(),
    recentActions(ctx, 5),
  ]);
  const counts = latest
    ? POSTFIX_QUEUES.map((q) => `${q} ${latest.queues[q].count}`).join(', ') +
      ` (${kilobytes(totalOf(latest.queues).bytes)})`
    : 'no sample yet';
  const stale = staleAfterMs(ctx.config);
  const isStale = stale !== undefined && latest !== undefined && Date.now() - latest.t > stale;
  const failing = stats.consecutiveFailures > 0;
  const state = failing
    ? `sampling fails (${stats.consecutiveFailures}x): ${stats.lastError ?? ''}`
    : `sampled ${ago(latest?.t)}${isStale ? ' (stale)' : ''}`;
  return [
    {
      target: 'queue',
      summary: `${counts}; ${state}`,
      alert: failing || isStale,
      details: { latest, ...stats, recentActions: actions },
    },
  ];
}

export const queueMonitorJob = defineJob({
  ...queueMonitorContract,
  // Samples are quick and serialized by their target; room for admin actions beside them.
  concurrency: 4,
  process: runQueueMonitor,
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
