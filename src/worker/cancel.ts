/**
 * Cancelling a running job from another process (the dashboard's "Cancel"). BullMQ's
 * `worker.cancelJob` aborts a job's AbortSignal only in the process that runs it, so every
 * worker process subscribes to one Redis channel under the mailjobs prefix
 * (`{prefix}:state:cancel`) and answers a request for a job it runs. The processor stops at
 * its next safe point (imapsync: between batches, its state saved); the job then fails with
 * "cancelled by <user>" as a {@link JobCancelledError}, which is not retried.
 */
import type { Worker } from 'bullmq';
import {
  connectRedis,
  endConnection,
  stateKey,
  type RedisSettings,
  type RedisClient,
} from '../core/redis.js';
import { PermanentJobError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { RedisOutageLog } from '../core/redis-outage.js';

/** What a cancel request names: the queue (job name) and the job. */
export interface CancelRequest {
  queue: string;
  jobId: string;
  /** Who asked, for the failed reason ("cancelled by alice"). */
  by: string;
}

const REASON_PREFIX = 'cancelled by ';

/** The channel every worker process listens on. */
export function cancelChannel(prefix: string): string {
  return stateKey(prefix, 'cancel');
}

/** True when an abort reason is a cancel request's (not shutdown's). */
export function isCancelReason(reason: unknown): reason is string {
  return typeof reason === 'string' && reason.startsWith(REASON_PREFIX);
}

/** A job stopped because someone cancelled it: failed at once, never retried. */
export class JobCancelledError extends PermanentJobError {
  constructor(reason: string) {
    super(reason, 'ECANCELLED');
  }
}

/**
 * Publishes a cancel request; resolves to the number of worker processes that heard it
 * (0: no worker listens, so nothing can stop the job).
 */
export async function requestCancel(redis: RedisClient, prefix: string, req: CancelRequest): Promise<number> {
  return redis.publish(cancelChannel(prefix), JSON.stringify(req));
}

/** A subscription that cancels this process's jobs on request. */
export interface CancelListener {
  /** Resolves once subscribed: requests published after it are heard. */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/** Subscribes for `workers` (job name → the Workers that may run its jobs) on a connection of its own. */
export function listenForCancels(
  redisSettings: RedisSettings,
  prefix: string,
  workers: (queue: string) => readonly Worker[],
  log: Logger,
  outage: RedisOutageLog,
): CancelListener {
  const sub = outage.watch(connectRedis(redisSettings, { blocking: true }), 'cancel');
  const channel = cancelChannel(prefix);
  sub.on('message', (ch: string, text: string) => {
    if (ch !== channel) return;
    let req: CancelRequest;
    try {
      req = JSON.parse(text) as CancelRequest;
    } catch {
      log.warn({ channel }, 'cancel channel: a message that is not JSON; ignored');
      return;
    }
    if (typeof req.queue !== 'string' || typeof req.jobId !== 'string' || typeof req.by !== 'string') return;
    // false when this process does not run the job: another worker process does, or nobody.
    const reason = `${REASON_PREFIX}${req.by}`;
    if (workers(req.queue).some((w) => w.cancelJob(req.jobId, reason))) {
      log.info({ queue: req.queue, jobId: req.jobId, by: req.by }, 'job cancelled on request');
    }
  });
  let closing = false;
  const ready = sub.subscribe(channel).then(() => undefined);
  // Ending the subscriber while it still subscribes (a shutdown during an outage) is no error.
  ready.catch((err: unknown) => closing || log.error({ err }, 'cancel channel: cannot subscribe'));
  return {
    ready,
    async close() {
      closing = true;
      // A subscriber has no replies to wait for; ended at once, even while Redis is away.
      await endConnection(sub);
    },
  };
}
