/**
 * Workers heal themselves. BullMQ users report Workers that stop taking jobs after a reconnect
 * or a failover while `isRunning()` stays true (taskforcesh/bullmq#3185, #4378, #4585): the
 * Worker's fetch loop waits on its blocking connection for good. One way in, reproduced in
 * test/runtime/watchdog.test.ts: the blocking connection is dropped and its reconnection reaches
 * a peer that accepts and never answers. ioredis waits for its ready check without a deadline,
 * and BullMQ, once it abandons the BZPOPMIN, waits for that connection to be ready again.
 *
 * BullMQ bounds one wait for a job: at most 10 s of BZPOPMIN plus 1 s for its own watchdog. A
 * wait pending for `stallMs` (far beyond that) while Redis answers is such a loss. So is a fetch
 * loop that ended while the Worker was not closed. The caller replaces such a Worker (see
 * workers.ts). During a Redis outage nothing is judged: every wait hangs then, and ioredis
 * reconnects on its own.
 */
import type { Worker } from 'bullmq';

/** What the watchdog reads of a BullMQ Worker that its typings keep private. */
interface WorkerInternals {
  /** The fetch loop's pending wait for a job (BZPOPMIN on the blocking connection), else null. */
  waiting: Promise<unknown> | null;
  closing: Promise<void> | undefined;
}

export interface WatchdogDeps {
  /** How long one wait for a job may stay pending. */
  stallMs: number;
  /** The Workers taking jobs now, by queue. */
  workers(): ReadonlyMap<string, Worker>;
  /** False while Redis is unreachable. */
  redisAnswers(): boolean;
  /** Replaces the Worker of `queue`; `reason` says what was seen. */
  replace(queue: string, reason: string): void;
}

export interface Watchdog {
  stop(): void;
}

/** Why `worker` is stuck, or undefined; `seen` remembers each Worker's wait between looks. */
export function stuckReason(
  worker: Worker,
  seen: WeakMap<Worker, { waiting: unknown; since: number }>,
  stallMs: number,
  now = Date.now(),
): string | undefined {
  const w = worker as unknown as WorkerInternals;
  if (w.closing || worker.isPaused()) return undefined;
  if (!worker.isRunning()) return 'its fetch loop ended';
  const last = seen.get(worker);
  if (!w.waiting || last?.waiting !== w.waiting) {
    seen.set(worker, { waiting: w.waiting, since: now });
    return undefined;
  }
  const pendingMs = now - last.since;
  return pendingMs >= stallMs
    ? `its wait for a job on the blocking connection has been pending for ${Math.round(pendingMs / 1000)} s`
    : undefined;
}

/** Looks at every Worker about four times per `stallMs`. */
export function startWatchdog(deps: WatchdogDeps): Watchdog {
  const seen = new WeakMap<Worker, { waiting: unknown; since: number }>();
  const timer = setInterval(
    () => {
      if (!deps.redisAnswers()) {
        // An outage: every wait hangs; judge afresh once Redis is back.
        for (const worker of deps.workers().values()) seen.delete(worker);
        return;
      }
      for (const [queue, worker] of deps.workers()) {
        const reason = stuckReason(worker, seen, deps.stallMs);
        if (reason) deps.replace(queue, reason);
      }
    },
    Math.max(1000, Math.floor(deps.stallMs / 4)),
  );
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
