/**
 * `mailjobs status [job...]`: per job (all, or the ones named), each target's row (how its runs went, from the run record), queue
 * counts, recent failures, schedules with their next run. Exits as a Nagios plugin: 0 all ok,
 * 1 a warning, 2 a critical row (see jobs/run-status.ts), 3 unknown (the config or Redis cannot
 * be read, or a job's rows cannot). The first line says the same in words, for monitors.
 * `--sync`: the imapsync fleet instead (cli/sync.ts; exit 1 when a task failed).
 */
import { describeRedis } from '../core/redis.js';
import { when } from '../jobs/format.js';
import { worst } from '../jobs/run-status.js';
import { openRuntime, redisLost, redisWarnings, type Runtime } from '../runtime.js';
import type { AnyJob, Severity, StatusRow } from '../jobs/types.js';
import { type CliArgs, type CliDeps, UsageError } from './io.js';

export interface QueueStatus {
  queue: string;
  targets: StatusRow[];
  /** Why the job's rows could not be read (the state is then unknown). */
  statusError?: string;
  counts: Record<string, number>;
  failed: { jobId: string; reason: string; finishedAt?: string }[];
  schedules: { id: string; every?: string; cron?: string; next?: string }[];
}

/** The overall state, as a Nagios plugin says it. */
export type OverallState = Severity | 'unknown';

const EXIT: Record<OverallState, number> = { ok: 0, warning: 1, critical: 2, unknown: 3 };
const MARK: Record<Severity, string> = { ok: ' ', warning: '~', critical: '!' };

/** Critical beats unknown (something is known to be wrong); unknown beats warning. */
function overall(queues: QueueStatus[]): OverallState {
  const rows = worst(...queues.flatMap((q) => q.targets.map((t) => t.severity)));
  if (rows !== 'critical' && queues.some((q) => q.statusError !== undefined)) return 'unknown';
  return rows;
}

function headline(state: OverallState, queues: QueueStatus[]): string {
  const count = (s: Severity) =>
    queues.reduce((n, q) => n + q.targets.filter((t) => t.severity === s).length, 0);
  const unread = queues.filter((q) => q.statusError !== undefined).map((q) => q.queue);
  const parts = [`${count('critical')} critical`, `${count('warning')} warning`];
  if (unread.length > 0) parts.push(`unreadable: ${unread.join(', ')}`);
  return `MAILJOBS ${state.toUpperCase()}: ${parts.join(', ')}`;
}

async function queueStatus(rt: Runtime, def: AnyJob): Promise<QueueStatus> {
  const q = rt.queues.get(def.name)!;
  const iso = (ms?: number) => (ms ? new Date(ms).toISOString() : undefined);
  const [counts, failed, schedulers, targets] = await Promise.all([
    q.getJobCounts(),
    q.getFailed(0, 4),
    q.getJobSchedulers(0, -1, true),
    (async () => (await def.status?.({ config: rt.config, redis: rt.redis, key: rt.key })) ?? [])().catch(
      (err: unknown) => err as Error,
    ),
  ]);
  return {
    queue: def.name,
    targets: targets instanceof Error ? [] : targets,
    ...(targets instanceof Error ? { statusError: targets.message } : {}),
    counts,
    failed: failed.map((j) => ({ jobId: j.id ?? '', reason: j.failedReason, finishedAt: iso(j.finishedOn) })),
    schedules: schedulers.map((s) => ({
      id: s.key,
      ...(s.every ? { every: `${Number(s.every) / 1000}s` } : {}),
      ...(s.pattern ? { cron: s.pattern } : {}),
      next: iso(s.next),
    })),
  };
}

/** The jobs named after `status` (a monitor checks one service at a time), else all of them. */
function jobsAsked(args: CliArgs, jobs: readonly AnyJob[]): readonly AnyJob[] {
  const names = args.positionals.slice(1);
  if (names.length === 0) return jobs;
  return names.map((n) => {
    const def = jobs.find((j) => j.name === n);
    if (!def) throw new UsageError(`status: unknown job "${n}"; jobs: ${jobs.map((j) => j.name).join(', ')}`);
    return def;
  });
}

/** Nothing can be said about the jobs (Redis unreachable, the config unreadable): a monitor must see "unknown", not "failed". */
function unknown(args: CliArgs, deps: CliDeps, err: unknown): number {
  const error = (err as Error).message;
  deps.out(args.json ? JSON.stringify({ state: 'unknown', error }, null, 2) : `MAILJOBS UNKNOWN: ${error}`);
  return EXIT.unknown;
}

export async function statusCommand(args: CliArgs, deps: CliDeps): Promise<number> {
  const jobs = jobsAsked(args, deps.jobs);
  let rt: Runtime;
  try {
    // Only errors in the log: stdout is the answer a monitor reads.
    const log = deps.log.child({}, { level: 'error' });
    rt = await openRuntime({ configFlag: args.config, jobs, log, startPrivateRedis: false });
  } catch (err) {
    return unknown(args, deps, err);
  }
  try {
    if (args.sync) return await (await import('./sync.js')).syncStatus(rt, args, deps);
    const queues: QueueStatus[] = [];
    for (const def of rt.jobs) queues.push(await queueStatus(rt, def));
    const warnings = await redisWarnings(rt);
    const state = overall(queues);
    if (args.json) {
      deps.out(
        JSON.stringify(
          {
            state,
            redis: describeRedis(rt.redisSettings),
            prefix: rt.config.redis.prefix,
            warnings,
            queues,
          },
          null,
          2,
        ),
      );
      return EXIT[state];
    }
    // In a terminal: relative and local; piped: exact (ISO, UTC).
    const time = (iso?: string) => (iso && deps.tty ? when(Date.parse(iso)) : (iso ?? '-'));
    deps.out(headline(state, queues));
    deps.out(`redis ${describeRedis(rt.redisSettings)}  prefix ${rt.config.redis.prefix}`);
    for (const w of warnings) deps.out(`warning: ${w}`);
    if (queues.length === 0) deps.out('no queues: no job is registered');
    for (const q of queues) {
      const c = q.counts;
      deps.out(
        `\n${q.queue}: waiting ${c.waiting ?? 0}  active ${c.active ?? 0}  delayed ${c.delayed ?? 0}  completed ${c.completed ?? 0}  failed ${c.failed ?? 0}`,
      );
      if (q.statusError !== undefined) deps.out(`  ? status unknown: ${q.statusError}`);
      for (const t of q.targets) deps.out(`  ${MARK[t.severity]} ${t.target}  ${t.summary}`);
      for (const s of q.schedules)
        deps.out(`  schedule ${s.id}  ${s.cron ?? `every ${s.every}`}  next ${time(s.next)}`);
      for (const f of q.failed) deps.out(`  failed ${f.jobId} at ${time(f.finishedAt)}: ${f.reason}`);
    }
    return EXIT[state];
  } catch (err) {
    const lost = redisLost(err);
    if (lost) return unknown(args, deps, lost);
    throw err;
  } finally {
    await rt.close();
  }
}
