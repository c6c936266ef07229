/**
 * Makes BullMQ's job schedulers match the desired schedules: adds, changes, removes.
 * Unchanged schedulers are not touched (an upsert would fire an interval job at once).
 * A Redis lock serialises concurrent schedulers, and each computes its diff from the
 * state it sees under the lock, so two at once create nothing twice.
 */
import type { JobSchedulerJson, Queue } from 'bullmq';
import { enqueueJob } from '../client/enqueue.js';
import { jobOptions } from '../core/queues.js';
import { stateKey, type RedisClient } from '../core/redis.js';
import type { Logger } from '../core/logger.js';
import type { AnyJob, DesiredSchedule } from '../jobs/types.js';
import { MANAGED_PREFIX } from './desired.js';

export interface ReconcileReport {
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: number;
}

/** True when BullMQ's scheduler already is what the config wants (pattern, interval, offset, tz, payload). */
export function sameSchedule(have: JobSchedulerJson, want: DesiredSchedule): boolean {
  return (
    (have.pattern ?? undefined) === want.pattern &&
    (have.every ? Number(have.every) : undefined) === want.everyMs &&
    (want.everyMs ? Number(have.offset) === want.offsetMs : true) &&
    (have.tz ?? undefined) === want.tz &&
    // BullMQ returns no template for an empty payload (`{}`, as the default schedules have).
    JSON.stringify(have.template?.data ?? {}) === JSON.stringify(want.payload ?? {})
  );
}

async function withLock<T>(redis: RedisClient, key: string, fn: () => Promise<T>): Promise<T> {
  const token = `${process.pid}:${Date.now()}:${Math.random()}`;
  const deadline = Date.now() + 60_000;
  while ((await redis.set(key, token, 'PX', 60_000, 'NX')) !== 'OK') {
    if (Date.now() > deadline) throw new Error(`scheduler lock ${key} is held for more than 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    return await fn();
  } finally {
    await redis.eval(
      `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
      1,
      key,
      token,
    );
  }
}

export interface ReconcileDeps {
  queues: Map<string, Queue>;
  jobs: readonly AnyJob[];
  redis: RedisClient;
  /** The config's `redis.prefix` (state keys, including the scheduler lock). */
  prefix: string;
  log: Logger;
}

/** Reconciles every job's queue; a Redis lock serialises concurrent schedulers. */
export async function reconcileSchedules(
  desired: Map<string, DesiredSchedule[]>,
  { queues, jobs, redis, prefix, log }: ReconcileDeps,
): Promise<ReconcileReport> {
  return withLock(redis, stateKey(prefix, 'scheduler-lock'), async () => {
    const report: ReconcileReport = { added: [], changed: [], removed: [], unchanged: 0 };
    for (const def of jobs) {
      const queue = queues.get(def.name);
      if (!queue) continue;
      const existing = new Map(
        (await queue.getJobSchedulers(0, -1))
          .filter((s) => (s.key ?? '').startsWith(MANAGED_PREFIX))
          .map((s) => [s.key, s]),
      );
      for (const want of desired.get(def.name) ?? []) {
        const have = existing.get(want.id);
        existing.delete(want.id);
        if (have && sameSchedule(have, want)) {
          report.unchanged++;
          continue;
        }
        await queue.upsertJobScheduler(
          want.id,
          want.pattern
            ? { pattern: want.pattern, ...(want.tz ? { tz: want.tz } : {}) }
            : { every: want.everyMs, offset: want.offsetMs },
          { name: def.name, data: want.payload, opts: jobOptions(def) },
        );
        (have ? report.changed : report.added).push(want.id);
        // BullMQ delays an interval scheduler's first job to its next slot; a new or changed
        // target should not wait that long. Deduplication keeps this to one queued job.
        if (want.runOnChange) await enqueueJob(queue, def, want.payload, { redis, prefix });
      }
      for (const id of existing.keys()) {
        await queue.removeJobScheduler(id);
        report.removed.push(id);
      }
    }
    log.info(
      {
        ...report,
        added: report.added.length,
        changed: report.changed.length,
        removed: report.removed.length,
      },
      'schedules reconciled',
    );
    return report;
  });
}
