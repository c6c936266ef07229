/**
 * Runs one job through its processor: validate the payload, take the target lock, process,
 * log one summary line. Shared by BullMQ workers and `mailjobs run`, so both behave the same.
 */
import type { z } from 'zod';
import { InvalidPayloadError, PermanentJobError, ThrottledError } from '../core/errors.js';
import { formatPath } from '../config/load.js';
import { acquireTargetLock, type LockHolder } from '../core/target-lock.js';
import type { AnyJob, JobContext, JobContract, JobResult } from '../jobs/types.js';
import { RunMetricsStore } from './run-metrics.js';
import { RunRecordStore, type FailureFacts } from './run-record.js';

/** Validates `raw` against the job's schema; the error names every bad field. */
export function parsePayload<S extends z.ZodType>(def: JobContract<S>, raw: unknown): z.output<S> {
  const result = def.schema.safeParse(raw);
  if (result.success) return result.data;
  const fields = result.error.issues.map((i) => `${formatPath(i.path) || '(payload)'}: ${i.message}`);
  throw new InvalidPayloadError(`invalid ${def.name} payload: ${fields.join('; ')}`);
}

/** The Redis key of a target's lock. */
export function targetLockKey(ctx: Pick<JobContext, 'key'>, jobName: string, target: string): string {
  return ctx.key('lock', jobName, target);
}

/**
 * What a job returns when its target is busy with another live job (a scheduled tick during a
 * manual run): completed in BullMQ's eyes, "busy" for `mailjobs run` and `enqueue --wait`.
 */
export interface SkippedResult extends JobResult {
  skipped: 'already running';
  runningJobId: string;
  /** Who holds the target, and until when. */
  holder: LockHolder;
}

/**
 * The holder named by a "busy" result (as executeJob returned it, or as BullMQ stored it),
 * else undefined. A result of a version that named only the job id is understood too.
 */
export function busyHolder(result: unknown): LockHolder | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  const r = result as Partial<SkippedResult>;
  if (r.skipped !== 'already running') return undefined;
  return r.holder ?? { jobId: r.runningJobId ?? 'unknown' };
}

export async function executeJob(
  def: AnyJob,
  raw: unknown,
  ctx: JobContext,
  lockTtlMs: number,
): Promise<JobResult | SkippedResult> {
  const payload = parsePayload(def, raw);
  const target = def.target(payload);
  const log = ctx.log.child({ target });
  const lock = await acquireTargetLock(ctx.redis, targetLockKey(ctx, def.name, target), ctx.jobId, lockTtlMs);
  if ('heldBy' in lock) {
    const holder = lock.heldBy;
    log.info({ runningJobId: holder.jobId, holder }, 'target held by another live job; skipped');
    return { skipped: 'already running', runningJobId: holder.jobId, holder };
  }
  if (lock.tookOverFrom)
    log.warn(
      { deadHolder: lock.tookOverFrom },
      'took over the target lock of a process that no longer exists',
    );
  const runs = new RunRecordStore(ctx.redis, ctx.key);
  const metrics = new RunMetricsStore(ctx.redis, ctx.key);
  const recordAs = def.runTarget?.(payload) ?? target;
  const started = Date.now();
  await runs.started(def.name, recordAs, started);
  try {
    const result = await def.process(payload, { ...ctx, log });
    const counts = countsOf(result);
    const durationMs = Date.now() - started;
    await runs.succeeded(def.name, recordAs, counts, durationMs);
    await metrics
      .ended(def.name, 'success', durationMs, def.moved?.(result))
      .catch((e: unknown) => log.warn({ err: e }, 'could not count the run for /metrics'));
    log.info({ ...counts, durationMs }, `${def.name} job completed`);
    return result;
  } catch (err) {
    const durationMs = Date.now() - started;
    if (err instanceof ThrottledError && !ctx.signal.aborted) {
      // Put back to wait (a slot, a throttled server): the worker delays it; not a failure.
      const until = Date.now() + err.retryAfterMs;
      await runs
        .waiting(def.name, recordAs, err.message, until)
        .catch((e: unknown) => log.warn({ err: e }, 'could not record the wait'));
      throw err;
    }
    // Stopped on request or at shutdown: neither a failure nor a success of the target.
    const recorded = ctx.signal.aborted
      ? runs.cancelled(def.name, recordAs, String(ctx.signal.reason), durationMs)
      : runs.failed(def.name, recordAs, (err as Error).message, durationMs, Date.now(), failureFacts(err));
    await recorded.catch((e: unknown) => log.warn({ err: e }, 'could not record how the run ended'));
    if (!ctx.signal.aborted)
      await metrics
        .ended(def.name, 'failure', durationMs)
        .catch((e: unknown) => log.warn({ err: e }, 'could not count the run for /metrics'));
    // A classified failure (a typed error with its code: login refused, server away, program
    // missing) is one line with its reason, its stack only at debug; an unclassified one (a bug)
    // keeps its stack.
    const { message, code } = err as Error & { code?: unknown };
    if (typeof code === 'string') {
      log.warn({ reason: message, code, durationMs, attempt: ctx.attempt }, `${def.name} job failed`);
      log.debug({ err }, `${def.name} job failed: stack`);
    } else log.warn({ err, durationMs, attempt: ctx.attempt }, `${def.name} job failed`);
    throw err;
  } finally {
    await lock.release();
  }
}

/**
 * The numeric, boolean and short string fields of a result: the summary log line and the run
 * record's `lastCounts`, so a processor returns at top level what `status` and the pages show.
 */
function countsOf(result: JobResult): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(result).filter(
      ([, v]) => typeof v === 'number' || typeof v === 'boolean' || (typeof v === 'string' && v.length < 80),
    ),
  );
}

/** A failure's machine word (a typed `outcome`, else its `code`) and whether a retry can help. */
function failureFacts(err: unknown): FailureFacts {
  const e = err as { outcome?: unknown; code?: unknown };
  const code = typeof e.outcome === 'string' ? e.outcome : typeof e.code === 'string' ? e.code : undefined;
  return { ...(code ? { code } : {}), permanent: err instanceof PermanentJobError };
}
