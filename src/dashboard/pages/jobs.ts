/**
 * What the Synchronization, Filter and Queue pages share: queueing a job the way the CLI does
 * (validation, one job per target) with errors as HTTP answers, a job's view for polling
 * (state, progress, result, trail; never its payload, which may hold sealed credentials), and
 * cancelling a job whichever state it is in.
 */
import type { Job, Queue } from 'bullmq';
import { dedupId, enqueueJob, type EnqueueOutcome } from '../../client/enqueue.js';
import { InvalidPayloadError, NotInConfigError } from '../../core/errors.js';
import { targetLockHolder } from '../../core/target-lock.js';
import { findJob } from '../../jobs/registry.js';
import type { Runtime } from '../../runtime.js';
import { requestCancel } from '../../worker/cancel.js';
import { targetLockKey } from '../../worker/execute.js';
import { HttpError, type SessionUser } from '../types.js';

/** The queue of job `name`, or a 500 when this dashboard was opened without it. */
export function queueOf(rt: Runtime, name: string): Queue {
  const queue = rt.queues.get(name);
  if (!queue) throw new HttpError(500, `the dashboard has no ${name} queue`);
  return queue;
}

/** Queues `payload` for job `name`; an invalid payload is a 400 naming the field. */
export async function enqueueFor(rt: Runtime, name: string, payload: unknown): Promise<EnqueueOutcome> {
  const def = findJob(rt.jobs, name);
  try {
    return await enqueueJob(queueOf(rt, name), def, payload, {
      redis: rt.redis,
      prefix: rt.config.redis.prefix,
      config: rt.config,
    });
  } catch (err) {
    if (err instanceof InvalidPayloadError || err instanceof NotInConfigError)
      throw new HttpError(400, err.message);
    throw err;
  }
}

/** A job as the pages poll it. */
export interface JobView {
  id: string;
  name: string;
  state: string;
  progress: unknown;
  result: unknown;
  failedReason?: string;
  attemptsMade: number;
  timestamp: number;
  processedOn?: number;
  finishedOn?: number;
  /** The job's trail (`job.log` lines), last 200. */
  trail: string[];
}

/** The view of `job`; `trail: false` leaves the trail out (lists). */
export async function viewOf(queue: Queue, read: Job, opts: { trail?: boolean } = {}): Promise<JobView> {
  const [state, logs] = await Promise.all([
    read.getState(),
    opts.trail === false ? Promise.resolve({ logs: [] as string[] }) : queue.getJobLogs(read.id!, -200, -1),
  ]);
  // `read` may predate the state: a job that finished in between would show as completed
  // without its result. BullMQ stores the result and the new state at once, so read it again.
  const finished = (state === 'completed' || state === 'failed') && read.finishedOn === undefined;
  const job = (finished ? await queue.getJob(read.id!) : undefined) ?? read;
  return {
    id: job.id!,
    name: job.name,
    state,
    progress: job.progress,
    result: job.returnvalue ?? null,
    ...(job.failedReason ? { failedReason: job.failedReason } : {}),
    attemptsMade: job.attemptsMade,
    timestamp: job.timestamp,
    ...(job.processedOn ? { processedOn: job.processedOn } : {}),
    ...(job.finishedOn ? { finishedOn: job.finishedOn } : {}),
    trail: logs.logs,
  };
}

/** The view of job `id` of queue `name`; 404 when BullMQ does not have it (any more). */
export async function jobView(rt: Runtime, name: string, id: string): Promise<JobView> {
  const queue = queueOf(rt, name);
  const job = await queue.getJob(id);
  if (!job) throw new HttpError(404, `no ${name} job ${id}`);
  return viewOf(queue, job);
}

/** The job of `name` working on `target` now: running (its lock), else queued (its dedup id). */
export async function currentJob(rt: Runtime, name: string, target: string): Promise<JobView | undefined> {
  const queue = queueOf(rt, name);
  const id =
    (await targetLockHolder(rt.redis, targetLockKey(rt, name, target)))?.jobId ??
    (await queue.getDeduplicationJobId(dedupId(name, target)));
  const job = id ? await queue.getJob(id) : undefined;
  return job ? viewOf(queue, job, { trail: false }) : undefined;
}

/** The newest `count` finished jobs of `name` (completed or failed), newest first. */
export async function finishedJobs(rt: Runtime, name: string, count: number): Promise<Job[]> {
  const jobs = await queueOf(rt, name).getJobs(['completed', 'failed'], 0, count - 1);
  return jobs
    .filter((j) => j.finishedOn)
    .sort((a, b) => b.finishedOn! - a.finishedOn!)
    .slice(0, count);
}

export type CancelOutcome =
  /** It was running: its worker was asked to stop (it fails with "cancelled by <user>"). */
  | { status: 'cancelling'; jobId: string }
  /** It was waiting: removed from the queue, it never runs. */
  | { status: 'removed'; jobId: string };

/** Cancels job `id` of queue `name` on behalf of `user`. */
export async function cancelJob(
  rt: Runtime,
  name: string,
  id: string,
  user: SessionUser,
): Promise<CancelOutcome> {
  const queue = queueOf(rt, name);
  const job = await queue.getJob(id);
  if (!job) throw new HttpError(404, `no ${name} job ${id}`);
  let state = await job.getState();
  if (state === 'waiting' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children') {
    try {
      await job.remove();
      rt.log.info({ queue: name, jobId: id, by: user.name }, 'queued job removed on request');
      return { status: 'removed', jobId: id };
    } catch (err) {
      // A worker took it between the two calls (a locked job cannot be removed): cancel it running.
      state = await job.getState();
      if (state !== 'active') throw err;
    }
  }
  if (state === 'active') {
    const heard = await requestCancel(rt.redis, rt.config.redis.prefix, {
      queue: name,
      jobId: id,
      by: user.name,
    });
    if (heard === 0) throw new HttpError(503, 'no worker process listens for cancel requests');
    return { status: 'cancelling', jobId: id };
  }
  throw new HttpError(409, `${name} job ${id} is not running (${state})`);
}
