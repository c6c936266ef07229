/**
 * queue-monitor's work, by action: take a sample into the time series, or act on the queue
 * as an admin asked (resend all/one, delete all/one). Every action leaves a line in the job's
 * trail, so the dashboard shows who-asked-what next to its outcome.
 */
import type { Config } from '../../config/schema.js';
import { deleteQueued, flushMessage, flushQueue, type PostfixTarget } from '../../mail/postfix.js';
import { RunRecordStore, type RunRecord } from '../../worker/run-record.js';
import type { JobContext } from '../types.js';
import { sampleQueue, totalOf, type QueueCounts, type QueueSample } from './sample.js';
import { queueMonitorTarget, type QueueMonitorPayload } from './schema.js';
import { QueueSeries } from './series.js';

export type QueueMonitorResult =
  | { action: 'sample'; at: number; queues: QueueSample['queues']; total: QueueCounts; durationMs: number }
  | { action: 'resend'; queueId: string }
  | { action: 'delete'; queueId: string; deleted: number };

/** Where Postfix is, from the config. */
export function postfixTarget(config: Config): PostfixTarget {
  return { configDir: config.postfix.configDir, commandDirectory: config.postfix.commandDirectory };
}

/** The time series, with the config's retention. */
export function queueSeries(ctx: Pick<JobContext, 'redis' | 'key' | 'config'>): QueueSeries {
  const q = ctx.config.queueMonitor;
  return new QueueSeries(ctx.redis, ctx.key, {
    fullResolutionMs: q.fullResolutionMinutes * 60_000,
    bucketMs: q.downsampleMinutes * 60_000,
    historyMs: q.historyDays * 86_400_000,
  });
}

/** How sampling went (last sample, last error, failures in a row): what `status` shows. */
export function samplingRun(ctx: Pick<JobContext, 'redis' | 'key'>): Promise<RunRecord | undefined> {
  return new RunRecordStore(ctx.redis, ctx.key).read(
    'queue-monitor',
    queueMonitorTarget({ action: 'sample' }),
  );
}

async function takeSample(
  ctx: JobContext,
  target: PostfixTarget,
  timeoutMs: number,
): Promise<QueueMonitorResult> {
  const sample = await sampleQueue(target, { timeoutMs, signal: ctx.signal });
  await queueSeries(ctx).record(sample);
  return {
    action: 'sample' as const,
    at: sample.t,
    queues: sample.queues,
    total: totalOf(sample.queues),
    durationMs: Date.now() - sample.t,
  };
}

/** What an admin did to the queue, newest first (see {@link recentActions}). */
export interface QueueAction {
  at: number;
  jobId: string;
  action: 'resend' | 'delete';
  queueId: string;
  deleted?: number;
}

/** Kept apart from BullMQ's job history, which samples every 10 s would trim within hours. */
const ACTIONS_KEPT = 200;

async function recordAction(ctx: JobContext, entry: Omit<QueueAction, 'at' | 'jobId'>): Promise<void> {
  const key = ctx.key('queue-monitor', 'actions');
  const line = JSON.stringify({ at: Date.now(), jobId: ctx.jobId, ...entry });
  await ctx.redis
    .multi()
    .lpush(key, line)
    .ltrim(key, 0, ACTIONS_KEPT - 1)
    .exec();
}

/** The last resend/delete actions, newest first: the Queue page's "who did what". */
export async function recentActions(
  ctx: Pick<JobContext, 'redis' | 'key'>,
  limit = 20,
): Promise<QueueAction[]> {
  const lines = await ctx.redis.lrange(ctx.key('queue-monitor', 'actions'), 0, limit - 1);
  return lines.map((l) => JSON.parse(l) as QueueAction);
}

export async function runQueueMonitor(p: QueueMonitorPayload, ctx: JobContext): Promise<QueueMonitorResult> {
  const target = postfixTarget(ctx.config);
  const call = { timeoutMs: ctx.config.postfix.timeoutSeconds * 1000, signal: ctx.signal };
  switch (p.action) {
    case 'sample':
      return takeSample(ctx, target, call.timeoutMs);
    case 'resend': {
      const queueId = p.queueId ?? 'ALL';
      if (queueId === 'ALL') await flushQueue(target, call);
      else await flushMessage(target, queueId, call);
      await ctx.trail(`resend ${queueId}: asked Postfix to deliver now`);
      await recordAction(ctx, { action: 'resend', queueId });
      return { action: 'resend', queueId };
    }
    case 'delete': {
      const deleted = await deleteQueued(target, p.queueId, call);
      await ctx.trail(`delete ${p.queueId}: ${deleted} message(s) deleted`);
      await recordAction(ctx, { action: 'delete', queueId: p.queueId, deleted });
      return { action: 'delete', queueId: p.queueId, deleted };
    }
  }
}
