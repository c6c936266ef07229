/**
 * `enqueue <job> <json> [--wait]` and `run <job> <json>`: the same validation, the same
 * processor, the same result JSON, whether through the queue or in the foreground.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { bullConnection, queuePrefix } from '../core/redis.js';
import { findJob } from '../jobs/catalog.js';
import type { JobContext } from '../jobs/types.js';
import { ProcessLmtpSlots } from '../mail/lmtp-pool.js';
import { openRuntime, redisLost, type Runtime } from '../runtime.js';
import { describeHolder, type LockHolder } from '../core/target-lock.js';
import { busyHolder, executeJob, parsePayload } from '../worker/execute.js';
import { DeferredRunError, InvalidPayloadError, NotInConfigError } from '../core/errors.js';
import { type CliArgs, type CliDeps, EXIT_BUSY, EXIT_FAILED, UsageError } from './io.js';

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`the payload is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * The result of job `jobId`, once finished (`waiting` is called once it is found, `progress`
 * with each progress it reports meanwhile); undefined when the queue has no such job.
 */
export async function waitForJob(
  rt: Runtime,
  name: string,
  jobId: string,
  timeoutSeconds: number,
  waiting: () => void,
  progress?: (value: unknown) => void,
): Promise<{ result: unknown } | undefined> {
  const { Job, QueueEvents } = await import('bullmq');
  const queue = rt.queues.get(name)!;
  const events = rt.outage.watch(
    new QueueEvents(name, {
      connection: bullConnection(rt.redisSettings, { blocking: true }),
      prefix: queuePrefix(rt.config.redis.prefix),
    }),
    'events',
  );
  try {
    if (progress) {
      events.on('progress', ({ jobId: id, data }) => {
        if (id === jobId) progress(data);
      });
    }
    await events.waitUntilReady();
    const job = await Job.fromId(queue, jobId);
    if (!job) return undefined;
    waiting();
    return { result: await job.waitUntilFinished(events, timeoutSeconds * 1000) };
  } finally {
    await events.close();
  }
}

/** One line on stderr naming who holds the target and until when; the exit code for "busy". */
export function busy(deps: CliDeps, job: string, holder: LockHolder): number {
  deps.err(`busy: the ${job} target is held by ${describeHolder(holder)}; try again later`);
  return EXIT_BUSY;
}

/** A finished job's result: printed (exit 0), or "busy" when it found its target held. */
function report(deps: CliDeps, job: string, result: unknown): number {
  const holder = busyHolder(result);
  if (holder) return busy(deps, job, holder);
  deps.out(JSON.stringify(result));
  return 0;
}

/**
 * `<job> <json>` from the command line, checked (a payload that is not valid, or that names an
 * account or task the config lacks, is a usage error: exit 2, nothing queued or run), and the
 * runtime to act on them: with the job's queue for `enqueue`; `run` needs none (no BullMQ
 * queue, connection or script loading).
 */
async function openJobCommand(args: CliArgs, deps: CliDeps, startPrivateRedis: boolean) {
  const [, name, json] = args.positionals;
  if (!name) throw new UsageError('a job name is required');
  if (args.positionals.length > 3) throw new UsageError(`unexpected argument "${args.positionals[3]}"`);
  const def = findJob(deps.jobs, name);
  const payload = parseJson(json);
  const asUsage = (check: () => void) => {
    try {
      check();
    } catch (err) {
      if (err instanceof InvalidPayloadError || err instanceof NotInConfigError)
        throw new UsageError(err.message);
      throw err;
    }
  };
  asUsage(() => parsePayload(def, payload));
  const rt = await openRuntime({
    configFlag: args.config,
    jobs: startPrivateRedis ? [] : [def],
    log: deps.log,
    startPrivateRedis,
  });
  try {
    asUsage(() => def.checkInConfig?.(parsePayload(def, payload), rt.config));
  } catch (err) {
    await rt.close();
    throw err;
  }
  return { def, payload, rt };
}

export async function enqueueCommand(args: CliArgs, deps: CliDeps): Promise<number> {
  const { def, payload, rt } = await openJobCommand(args, deps, false);
  try {
    const { enqueueJob } = await import('../client/enqueue.js'); // BullMQ: only for enqueue, not run
    const outcome = await enqueueJob(rt.queues.get(def.name)!, def, payload, {
      redis: rt.redis,
      prefix: rt.config.redis.prefix,
    });
    if (!args.wait) {
      deps.out(args.json ? JSON.stringify(outcome) : `${outcome.status} ${outcome.jobId}`);
      return 0;
    }
    const finished = await waitForJob(rt, def.name, outcome.jobId, args.timeoutSeconds, () => {
      if (outcome.status !== 'queued') deps.err(`${outcome.status}: waiting for job ${outcome.jobId}`);
    });
    if (finished) return report(deps, def.name, finished.result);
    // Held by a job outside the queue (a `mailjobs run`): nothing to wait for.
    if (outcome.status === 'running' && outcome.holder) return busy(deps, def.name, outcome.holder);
    throw new Error(`job ${outcome.jobId} no longer exists`);
  } catch (err) {
    if (err instanceof UsageError || !args.wait || redisLost(err)) throw err;
    deps.err(`job failed: ${(err as Error).message}`);
    return EXIT_FAILED;
  } finally {
    await rt.close();
  }
}

export async function runCommand(args: CliArgs, deps: CliDeps): Promise<number> {
  const { def, payload, rt } = await openJobCommand(args, deps, true);
  const abort = new AbortController();
  const onSignal = () => abort.abort('interrupted');
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  const jobId = `run-${randomUUID()}`;
  const ctx: JobContext = {
    jobId,
    attempt: 1,
    log: deps.log.child({ queue: def.name, jobId }),
    signal: abort.signal,
    config: rt.config,
    redis: rt.redis,
    key: rt.key,
    progress: async (value) => deps.log.info({ progress: value }, 'progress'),
    trail: async (line) => deps.err(line),
    lmtpSlots: new ProcessLmtpSlots(),
  };
  try {
    const lockMs = rt.config.workers.lockDurationSeconds * 1000;
    for (;;) {
      try {
        return report(deps, def.name, await executeJob(def, payload, ctx, lockMs));
      } catch (err) {
        // A run deferred (no free slot, a paused host) waits here as a worker's would, then runs.
        if (!(err instanceof DeferredRunError)) throw err;
        await sleep(err.retryAfterMs, undefined, { signal: abort.signal });
      }
    }
  } catch (err) {
    deps.err(`job failed: ${(err as Error).message}`);
    return EXIT_FAILED;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    await rt.close();
  }
}
