/**
 * Gathers what the alert rules look at, reading only what an enabled rule needs: the run
 * record of each connector and migration, getmail's held messages, clamd's loaded signatures
 * (freshclam's own rule), queue-monitor's samples of the Postfix queue, and each BullMQ
 * queue's failed jobs and listening workers.
 */
import { Queue } from 'bullmq';
import type { AlertRules } from '../../config/alerts.js';
import { queuePrefix } from '../../core/redis.js';
import { ClamdClient } from '../../mail/clamd.js';
import { RunRecordStore } from '../../worker/run-record.js';
import { contracts } from '../contracts.js';
import { SIGNATURES_TARGET } from '../freshclam/schema.js';
import { signatureAlerts } from '../freshclam/status.js';
import { SeenUidStore } from '../getmail/state.js';
import { queueSeries } from '../queue-monitor/processor.js';
import type { JobContext } from '../types.js';
import type { AlertSnapshot, ConnectorSnapshot, PostfixQueuePoint, QueueSnapshot } from './rules.js';

type SnapshotContext = Pick<JobContext, 'config' | 'redis' | 'key'>;

async function connectors(
  ctx: SnapshotContext,
  runs: RunRecordStore,
  rules: AlertRules,
): Promise<ConnectorSnapshot[]> {
  return Promise.all(
    ctx.config.connectors
      .filter((c) => c.enabled)
      .map(async (c) => {
        const [run, held] = await Promise.all([
          runs.read('getmail', c.id),
          rules.heldMessages ? new SeenUidStore(ctx.redis, ctx.key, c.id, 1).held() : [],
        ]);
        return {
          id: c.id,
          host: c.host,
          username: c.username,
          deliverTo: c.deliverTo,
          held: held.length,
          ...(run ? { run } : {}),
        };
      }),
  );
}

async function signatureProblems(ctx: SnapshotContext, runs: RunRecordStore, now: number): Promise<string[]> {
  const clamd = new ClamdClient(ctx.config.clamd);
  const [version, run] = await Promise.all([
    clamd.version({ timeoutMs: 5000 }).catch((err: unknown) => err as Error),
    runs.read('freshclam', SIGNATURES_TARGET),
  ]);
  return signatureAlerts(
    version,
    { consecutiveFailures: run?.consecutiveFailures ?? 0 },
    ctx.config.freshclam.alert,
    now,
  );
}

async function postfixQueue(
  ctx: SnapshotContext,
  rules: AlertRules,
  now: number,
): Promise<PostfixQueuePoint[]> {
  if (rules.postfixQueueMax === false && rules.postfixQueueGrowingMinutes === false) return [];
  // A point from before the growth window is needed to say "grown since".
  const minutes = (rules.postfixQueueGrowingMinutes || 0) + 15;
  const points = await queueSeries(ctx).read({ sinceMs: now - minutes * 60_000 });
  return points.map((p) => ({ t: p.t, count: p.total.count }));
}

async function queueState(ctx: SnapshotContext, name: string): Promise<QueueSnapshot> {
  const queue = new Queue(name, { connection: ctx.redis, prefix: queuePrefix(ctx.config.redis.prefix) });
  try {
    const [failed, workers, newestFailed, newestCompleted] = await Promise.all([
      queue.getFailedCount(),
      // CLIENT LIST may be refused to a restricted Redis user: then the rule has nothing to say.
      queue.getWorkersCount().catch(() => undefined),
      name === 'bayes-learn' ? queue.getFailed(0, 0) : [],
      name === 'bayes-learn' ? queue.getCompleted(0, 0) : [],
    ]);
    const f = newestFailed[0];
    const completedAt = newestCompleted[0]?.finishedOn;
    return {
      name,
      failed,
      ...(workers !== undefined ? { workers } : {}),
      ...(f?.finishedOn ? { newestFailed: { at: f.finishedOn, reason: f.failedReason } } : {}),
      ...(completedAt ? { newestCompletedAt: completedAt } : {}),
    };
  } finally {
    await queue.close();
  }
}

/** What the rules in `rules` need to know, as of `now`. */
export async function takeSnapshot(
  ctx: SnapshotContext,
  rules: AlertRules,
  now: number,
): Promise<AlertSnapshot> {
  const runs = new RunRecordStore(ctx.redis, ctx.key);
  const [conns, syncs, signatures, postfix, queues] = await Promise.all([
    connectors(ctx, runs, rules),
    rules.syncFailed ? runs.list('imapsync') : [],
    rules.signatures ? signatureProblems(ctx, runs, now) : [],
    postfixQueue(ctx, rules, now),
    Promise.all(Object.keys(contracts).map((name) => queueState(ctx, name))),
  ]);
  return { now, connectors: conns, syncs, signatureProblems: signatures, postfixQueue: postfix, queues };
}
