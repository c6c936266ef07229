/**
 * The contract of a job (name, payload schema, target, retry policy) and its definition
 * (the contract plus the processor and the schedules it wants). See registry.ts.
 */
import type { RedisClient } from '../core/redis.js';
import type { z } from 'zod';
import type { Config, ScheduleConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { ProcessLmtpSlots } from '../mail/lmtp-pool.js';
import type { RunRecord } from '../worker/run-record.js';
import type { HostCommand } from './host-commands.js';

/** What other services need to enqueue a job: no processor, no heavy imports. */
export interface JobContract<S extends z.ZodType = z.ZodType> {
  /** Queue name and job name. */
  readonly name: string;
  /** One line for the README table, `status` and the dashboard. */
  readonly summary: string;
  readonly schema: S;
  /**
   * The stable id of what the job works on (an account, a sync task, a user). One job per
   * target runs at a time; a second trigger answers "already queued/running".
   */
  target(payload: z.output<S>): string;
  readonly retry: { attempts: number; backoffSeconds: number };
  /**
   * Throws a `NotInConfigError` naming the account or task when the payload's target must be in
   * the config and is not (getmail's connector, imapsync's task): producers that have the config
   * refuse such a job when it is enqueued; the processor fails it with the same message.
   */
  checkInConfig?(payload: z.output<S>, config: Config): void;
  /**
   * How many finished jobs stay in Redis, and for how long (default: completed 7 days / 1000,
   * failed 30 days / 5000). Jobs whose payloads are big (a whole message) keep fewer.
   */
  readonly keep?: { completed: KeepJobs; failed: KeepJobs };
}

/** BullMQ's `removeOnComplete` / `removeOnFail` bounds: seconds and count. */
export interface KeepJobs {
  age: number;
  count: number;
}

/** What a processor gets besides its payload. */
export interface JobContext {
  readonly jobId: string;
  /** 1 on the first try. */
  readonly attempt: number;
  readonly log: Logger;
  /** Aborted on cancel or shutdown: check it between messages and stop at a safe point. */
  readonly signal: AbortSignal;
  readonly config: Config;
  /** A connection for state (checkpoints): keys from `stateKey`. */
  readonly redis: RedisClient;
  /** `stateKey(config.redis.prefix, ...parts)`. */
  key(...parts: string[]): string;
  /** Progress for the dashboard (folder, done, total, bytes, eta...). */
  progress(value: Record<string, unknown>): Promise<void>;
  /** One human-readable line in the job's trail (BullMQ `job.log`). */
  trail(line: string): Promise<void>;
  /** The LMTP connection slots of this process, shared by every job it runs. */
  readonly lmtpSlots: ProcessLmtpSlots;
}

/** A recurring job that the config asks for; the scheduler reconciles these into BullMQ. */
export interface DesiredSchedule {
  /** Stable id, e.g. `getmail:john@example.com`. */
  id: string;
  payload: unknown;
  pattern?: string;
  tz?: string;
  everyMs?: number;
  /** Offset within `everyMs`, so many targets do not fire in the same second (set by the scheduler). */
  offsetMs?: number;
  /** Also run once at once when the schedule is added or changed (a new connector is fetched now). */
  runOnChange?: boolean;
}

/** The summary a processor returns; numbers are logged on the job's last line. */
export type JobResult = Record<string, unknown>;

/** Mail a run moved, for the `/metrics` counters: getmail's fetched and delivered, imapsync's copied. */
export interface MailMoved {
  action: 'fetched' | 'delivered' | 'copied';
  messages: number;
  bytes?: number;
}

export interface JobDefinition<
  S extends z.ZodType = z.ZodType,
  R extends JobResult = JobResult,
> extends JobContract<S> {
  /** Default worker concurrency for this queue (config `workers.concurrency.<name>` overrides). */
  readonly concurrency: number;
  process(payload: z.output<S>, ctx: JobContext): Promise<R>;
  /**
   * The target the worker's run record files a run under, when coarser than `target` (which
   * can be one message): bayes-learn's learns are one record, not one per message. Default:
   * `target`.
   */
  runTarget?(payload: z.output<S>): string;
  /**
   * The job's one global schedule (e.g. daily Junk expunge), which config
   * `schedules.<name>` overrides or disables. None: on demand only.
   */
  readonly defaultSchedule?: { schedule: ScheduleConfig; payload: z.input<S> };
  /**
   * The programs it runs on this host (see host-commands.ts): when one is missing, its
   * schedule is off and start-up says so in one line.
   */
  hostCommands?(config: Config): HostCommand[];
  /** Per-target schedules the config asks for (one per connector, say). */
  schedules?(config: Config): DesiredSchedule[];
  /** What a successful run moved (messages, bytes), for the `/metrics` counters. */
  moved?(result: R): MailMoved[];
  /** The job's own status rows for `mailjobs status` and the dashboard (one per target, say). */
  status?(ctx: StatusContext): Promise<StatusRow[]>;
  /**
   * A companion every worker process runs next to this queue's Worker, e.g. bayes-learn's
   * watcher that queues the local learn spool. Started with the workers, stopped before them.
   */
  background?(ctx: BackgroundContext): BackgroundTask;
}

/** What a job's background task gets: the live config (SIGHUP reloads it), Redis, a logger. */
export interface BackgroundContext {
  config(): Config;
  readonly redis: RedisClient;
  readonly log: Logger;
  /** `stateKey(config.redis.prefix, ...parts)`. */
  key(...parts: string[]): string;
}

/** A running background task. */
export interface BackgroundTask {
  /** Stops it and waits for work in progress; never throws. */
  close(): Promise<void>;
}

/** What a job's `status` reads. */
export interface StatusContext {
  readonly config: Config;
  readonly redis: RedisClient;
  key(...parts: string[]): string;
}

/**
 * How urgently an admin should look, as `mailjobs status` exits (Nagios): `ok` 0, `warning` 1
 * (a target failing for a short while, messages held), `critical` 2 (see run-status.ts).
 */
export type Severity = 'ok' | 'warning' | 'critical';

/** One line of a job's status: a target and what is known of it. */
export interface StatusRow {
  target: string;
  /** A short human summary, e.g. `ok 3 min ago (10:42), 12 delivered`. */
  summary: string;
  severity: Severity;
  /** The target's run record (exact times in epoch ms), when the job has run for it. */
  run?: RunRecord;
  details: Record<string, unknown>;
}

/** Identity function that keeps the schema's and result's types. */
export function defineJob<S extends z.ZodType, R extends JobResult>(
  def: JobDefinition<S, R>,
): JobDefinition<S, R> {
  return def;
}

/** Any job definition, as the runtime handles them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyJob = JobDefinition<z.ZodType, any>;
