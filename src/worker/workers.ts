/**
 * One BullMQ Worker per queue of the registry. Shutdown (SIGTERM/SIGINT) aborts active
 * processors at their next safe point and returns their jobs to the queue: nothing is lost,
 * and the job resumes from its checkpoints on the next start. A cancel request (cancel.ts)
 * aborts one job the same way, but fails it without a retry. Jobs' background tasks (such as
 * bayes-learn's spool watcher) run beside the workers and stop first.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { DelayedError, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Config } from '../config/schema.js';
import { DeferredRunError, PermanentJobError, ThrottledError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import {
  bullConnection,
  describeRedis,
  endConnection,
  type EndableConnection,
  queuePrefix,
  stateKey,
  type RedisSettings,
  type RedisClient,
} from '../core/redis.js';
import { clientOf } from '../core/queues.js';
import { RedisOutageLog } from '../core/redis-outage.js';
import type { AnyJob, JobContext } from '../jobs/types.js';
import { ProcessLmtpSlots } from '../mail/lmtp-pool.js';
import { executeJob } from './execute.js';
import { RunMetricsStore } from './run-metrics.js';
import { startWatchdog } from './watchdog.js';
import { JobCancelledError, isCancelReason, listenForCancels } from './cancel.js';

const SHUTDOWN = 'mailjobs-shutdown';
/**
 * How long a shutdown waits for an unreachable Redis: then it ends every connection and stops. A
 * job that could not be put back meanwhile is returned by the stalled check once its lock
 * expires, as after a crash: late, not lost.
 */
export const SHUTDOWN_REDIS_GRACE_MS = 10_000;

export interface WorkerSet {
  /** The Workers taking jobs now, one per queue (the watchdog may replace one). */
  readonly workers: readonly Worker[];
  /** Resolves once cancel requests (see cancel.ts) reach this process. */
  readonly cancelListening: Promise<void>;
  /**
   * Abort active jobs (they return to the queue) and close every worker, trying each. False when
   * Redis stayed away and some worker could not finish closing (its timers may remain).
   */
  close(): Promise<boolean>;
}

export interface WorkerDeps {
  jobs: readonly AnyJob[];
  /** Read for every job, so a config reloaded on SIGHUP applies to the next job. */
  config(): Config;
  /** Where Redis is and how to log in: each Worker and the cancel subscriber connect with it. */
  redisSettings: RedisSettings;
  /** Connection for job state (checkpoints, locks). */
  redis: RedisClient;
  log: Logger;
  /** Where the Workers' and the cancel subscriber's errors go (default: one of their own, on `redis`). */
  outage?: RedisOutageLog;
}

/** The context a processor gets for a BullMQ job. */
function contextFor(
  job: Job,
  signal: AbortSignal,
  deps: WorkerDeps,
  lmtpSlots: ProcessLmtpSlots,
): JobContext {
  const config = deps.config();
  return {
    jobId: job.id ?? 'unknown',
    attempt: job.attemptsMade + 1,
    log: deps.log.child({ queue: job.queueName, jobId: job.id }),
    signal,
    config,
    redis: deps.redis,
    key: (...parts) => stateKey(config.redis.prefix, ...parts),
    progress: (value) => job.updateProgress(value),
    trail: async (line) => {
      await job.log(line);
    },
    lmtpSlots,
  };
}

/** BullMQ fails an `UnrecoverableError` at once, whatever attempts are left: no retry storm. */
function unrecoverable(err: PermanentJobError): UnrecoverableError {
  const out = new UnrecoverableError(err.message);
  out.name = err.name;
  if (err.stack) out.stack = err.stack;
  return Object.assign(out, { code: err.code });
}

/** An outage log for workers started without one (on the state connection `deps.redis`). */
function ownOutageLog(deps: WorkerDeps): RedisOutageLog {
  const outage = new RedisOutageLog(deps.log, describeRedis(deps.redisSettings));
  outage.watchState(deps.redis);
  return outage;
}

/** Destroys the socket of `client` now: for a connection whose peer can no longer answer. */
function destroySocket(client: EndableConnection | undefined): void {
  (client as { stream?: { destroy(): void } } | undefined)?.stream?.destroy();
}

/** Both connections' clients of `worker` (see `clientOf`). */
function clientsOf(worker: Worker): EndableConnection[] {
  const backend = worker.getBackend();
  return [backend.blockingConnection, backend.connection].flatMap((c) => clientOf(c) ?? []);
}

/**
 * Closes `worker` once its active jobs are done (and ends a Cluster connection of ours). Its
 * blocking connection (idle in BZPOPMIN, or waiting to reconnect after an outage) is ended first: BullMQ's own disconnect of a connection
 * waiting to reconnect never completes (see `endConnection`), which kept `Worker.close()` waiting
 * for good when SIGTERM came during or just after a Redis outage.
 */
async function closeWorker(worker: Worker): Promise<void> {
  const blocking = clientOf(worker.getBackend().blockingConnection);
  if (blocking) await endConnection(blocking);
  await worker.close();
  // A Cluster connection is ours (see `bullConnection`): BullMQ leaves it open. Any other is
  // BullMQ's, closed by `close()` (ending it here too would fail its last commands).
  const main = clientOf(worker.getBackend().connection) as
    (EndableConnection & { isCluster?: boolean }) | undefined;
  if (main?.isCluster) await endConnection(main);
}

export function startWorkers(deps: WorkerDeps): WorkerSet {
  const { log } = deps;
  const outage = deps.outage ?? ownOutageLog(deps);
  const config = deps.config();
  const lockMs = config.workers.lockDurationSeconds * 1000;
  const lmtpSlots = new ProcessLmtpSlots();
  const makeWorker = (def: AnyJob): Worker => {
    const concurrency = config.workers.concurrency[def.name] ?? def.concurrency;
    const worker = new Worker(
      def.name,
      async (job: Job, token?: string, signal?: AbortSignal) => {
        const abort = signal ?? new AbortController().signal;
        try {
          return await executeJob(def, job.data, contextFor(job, abort, deps, lmtpSlots), lockMs);
        } catch (err) {
          if (abort.aborted && abort.reason === SHUTDOWN) {
            // Back to the queue without spending an attempt; it resumes from its checkpoints.
            await job.moveToWait(token);
            throw new WaitingError();
          }
          // Cancelled from the dashboard: fail now, no retry; the next run resumes from the state.
          if (abort.aborted && isCancelReason(abort.reason))
            throw unrecoverable(new JobCancelledError(abort.reason));
          if (err instanceof ThrottledError) {
            // The server said when to come back: then, without spending an attempt.
            // A deferred run (no slot, a paused host) was logged once by whoever decided it.
            const level = err instanceof DeferredRunError ? 'debug' : 'warn';
            log[level]({ queue: def.name, jobId: job.id, retryAfterMs: err.retryAfterMs }, err.message);
            await job.moveToDelayed(Date.now() + err.retryAfterMs, token);
            throw new DelayedError();
          }
          throw err instanceof PermanentJobError ? unrecoverable(err) : err;
        }
      },
      {
        connection: bullConnection(deps.redisSettings, { blocking: true }),
        prefix: queuePrefix(config.redis.prefix),
        concurrency,
        lockDuration: lockMs,
        // A killed worker's job is back in the queue within about two lock durations.
        stalledInterval: lockMs,
        maxStalledCount: 3,
      },
    );
    outage.watch(worker, def.name);
    worker.on('failed', (job, err) => {
      if (job && !(err instanceof WaitingError)) {
        log.debug({ queue: def.name, jobId: job.id, attemptsMade: job.attemptsMade }, 'job attempt failed');
      }
    });
    return worker;
  };
  /** The Worker taking the jobs of each queue now. */
  const current = new Map<string, Worker>();
  /** Replaced Workers still finishing their active jobs. */
  const retiring = new Set<Worker>();
  for (const def of deps.jobs) {
    current.set(def.name, makeWorker(def));
    log.info({ queue: def.name, concurrency: current.get(def.name)!.concurrency }, 'worker started');
  }
  const metrics = new RunMetricsStore(deps.redis, (...parts) => stateKey(config.redis.prefix, ...parts));

  /**
   * A Worker that no longer takes jobs (see watchdog.ts) makes way for a new one at once. The old
   * one closes: its active jobs finish under its lock, which its other connection still renews,
   * so none is lost or run twice. Its blocking socket is destroyed rather than ended: a peer on
   * a dead path never answers an end.
   */
  const replace = (queue: string, reason: string) => {
    const def = deps.jobs.find((d) => d.name === queue);
    const old = current.get(queue);
    if (!def || !old) return;
    retiring.add(old);
    void old
      .close()
      .catch((err: unknown) => log.error({ queue, err }, 'closing the replaced worker failed'))
      .finally(() => retiring.delete(old));
    destroySocket(clientOf(old.getBackend().blockingConnection));
    current.set(queue, makeWorker(def));
    log.warn({ queue, reason }, 'worker stopped taking jobs: replaced by a new one');
    metrics
      .workerRestarted(queue)
      .catch((err: unknown) => log.warn({ err }, 'could not count the worker restart for /metrics'));
  };
  const watchdog =
    config.workers.watchdogSeconds > 0
      ? startWatchdog({
          stallMs: config.workers.watchdogSeconds * 1000,
          workers: () => current,
          redisAnswers: () => !outage.down,
          replace,
        })
      : undefined;
  const background = deps.jobs.flatMap((def) =>
    def.background
      ? [
          def.background({
            config: deps.config,
            redis: deps.redis,
            log: log.child({ queue: def.name }),
            key: (...parts) => stateKey(deps.config().redis.prefix, ...parts),
          }),
        ]
      : [],
  );

  // A job of a replaced Worker runs there until it ends: cancel requests look there too.
  const cancels = listenForCancels(
    deps.redisSettings,
    config.redis.prefix,
    (queue) => [current.get(queue), ...[...retiring].filter((w) => w.name === queue)].flatMap((w) => w ?? []),
    log,
    outage,
  );
  const all = () => [...current.values(), ...retiring];

  return {
    get workers() {
      return [...current.values()];
    },
    cancelListening: cancels.ready,
    async close() {
      watchdog?.stop();
      const workers = all();
      const closing = (async () => {
        await Promise.allSettled([...background.map((b) => b.close()), cancels.close()]);
        for (const w of workers) w.cancelAllJobs(SHUTDOWN);
        return Promise.allSettled(workers.map(closeWorker));
      })();
      const redisGone = outage.unreachableFor(SHUTDOWN_REDIS_GRACE_MS).then(() => 'gone' as const);
      if ((await Promise.race([closing, redisGone])) === 'gone') {
        log.warn(
          { graceMs: SHUTDOWN_REDIS_GRACE_MS },
          'redis still unreachable: stopping without it; jobs that could not go back to the queue return when their lock expires',
        );
        await Promise.allSettled(workers.flatMap(clientsOf).map(endConnection));
        const late = delay(SHUTDOWN_REDIS_GRACE_MS, 'late' as const, { ref: false });
        if ((await Promise.race([closing, late])) === 'late') return false;
      }
      for (const r of await closing)
        if (r.status === 'rejected') log.error({ err: r.reason }, 'worker close failed');
      return true;
    },
  };
}
