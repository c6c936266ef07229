/**
 * Enqueue with validation and per-target deduplication. Used by the CLI, the dashboard,
 * the typed client, and anything else that produces jobs, so they all answer alike.
 */
import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Config } from '../config/schema.js';
import { jobOptions } from '../core/queues.js';
import { stateKey, type RedisClient } from '../core/redis.js';
import { type LockHolder, targetLockHolder } from '../core/target-lock.js';
import type { JobContract } from '../jobs/types.js';
import { parsePayload } from '../worker/execute.js';

export type EnqueueOutcome =
  /** A new job was queued. */
  | { status: 'queued'; jobId: string; target: string }
  /** A job for the same target is already waiting; nothing new was queued. */
  | { status: 'already-queued'; jobId: string; target: string }
  /**
   * A job for the same target is running now; nothing new was queued. `holder`: the target
   * lock's holder (a job of a worker or a `mailjobs run`), when that is how it was seen.
   */
  | { status: 'running'; jobId: string; target: string; holder?: LockHolder };

export interface EnqueueOptions {
  /** Run no earlier than this many milliseconds from now. */
  delayMs?: number;
}

/** The BullMQ deduplication id of a target: one waiting-or-active job per target. */
export function dedupId(jobName: string, target: string): string {
  return `${jobName}:${target}`;
}

/**
 * Validates `payload` (throws `InvalidPayloadError` naming the field; with `state.config`, a
 * `NotInConfigError` naming an account or task the config lacks) and queues it, unless
 * a job for the same target is already queued or running (a lock left by a dead process of
 * this host does not count: see target-lock.ts).
 */
export async function enqueueJob(
  queue: Queue,
  def: JobContract,
  payload: unknown,
  state: { redis: RedisClient; prefix: string; config?: Config },
  opts: EnqueueOptions = {},
): Promise<EnqueueOutcome> {
  const parsed = parsePayload(def, payload);
  if (state.config) def.checkInConfig?.(parsed, state.config);
  const target = def.target(parsed);
  const holder = await targetLockHolder(state.redis, stateKey(state.prefix, 'lock', def.name, target));
  if (holder) return { status: 'running', jobId: holder.jobId, target, holder };
  const jobId = randomUUID();
  const job = await queue.add(def.name, payload, {
    ...jobOptions(def),
    jobId,
    deduplication: { id: dedupId(def.name, target) },
    ...(opts.delayMs ? { delay: opts.delayMs } : {}),
  });
  if (job.id === jobId) return { status: 'queued', jobId, target };
  const existing = job.id ?? 'unknown';
  const state_ = await queue.getJobState(existing);
  return { status: state_ === 'active' ? 'running' : 'already-queued', jobId: existing, target };
}
