/**
 * `mailjobs sync import|start|cancel|remove`: bulk imapsync from the command line, the same as
 * the Synchronization page (dashboard/pages/sync-fleet.ts). `import FILE` reads a CSV of tasks
 * (columns: jobs/imapsync/import.ts), prints one line per bad line and creates nothing then;
 * `--dry-run` only checks and previews.
 */
import { readFile } from 'node:fs/promises';
import {
  FLEET_FILTERS,
  type BulkAction,
  type FleetFilter,
  bulkAction,
  importTasks,
} from '../dashboard/pages/sync-fleet.js';
import { HttpError } from '../dashboard/types.js';
import { errorLine } from '../jobs/imapsync/import.js';
import { openRuntime, type Runtime } from '../runtime.js';
import { type CliArgs, type CliDeps, EXIT_FAILED, EXIT_USAGE, UsageError } from './io.js';

/** Who the run records and logs name for actions from the command line. */
const CLI_USER = { name: 'cli', role: 'admin' } as const;

async function withRuntime(
  args: CliArgs,
  deps: CliDeps,
  use: (rt: Runtime) => Promise<number>,
): Promise<number> {
  const log = deps.log.child({}, { level: 'error' });
  const rt = await openRuntime({ configFlag: args.config, jobs: deps.jobs, log, startPrivateRedis: false });
  try {
    return await use(rt);
  } catch (err) {
    if (err instanceof HttpError) {
      deps.err(err.message);
      return err.status === 404 ? EXIT_USAGE : EXIT_FAILED;
    }
    throw err;
  } finally {
    await rt.close();
  }
}

/** `mailjobs sync import FILE [--dry-run] [--json]`. */
export async function syncImportCommand(args: CliArgs, deps: CliDeps): Promise<number> {
  const file = args.positionals[2];
  if (!file || args.positionals.length > 3) throw new UsageError('give one CSV file');
  let csv: string;
  try {
    csv = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  return withRuntime(args, deps, async (rt) => {
    const r = await importTasks(rt, csv, !args.dryRun);
    if (args.json) deps.out(JSON.stringify(r, null, 2));
    else {
      for (const e of r.errors) deps.err(`${file}: ${errorLine(e)}`);
      if (r.errors.length > 0) deps.err(`${r.errors.length} bad line(s): nothing created`);
      else {
        for (const row of r.rows)
          deps.out(
            `line ${row.line}: ${row.remote} → ${row.localUser} (${row.login})${row.exists ? ' replaces the stored task' : ''}`,
          );
        deps.out(
          args.dryRun
            ? `dry run: ${r.rows.length} task(s) would be created or replaced`
            : `${r.created} task(s) created, ${r.replaced} replaced`,
        );
      }
    }
    return r.errors.length > 0 ? EXIT_USAGE : 0;
  });
}

/** `mailjobs sync start|cancel [TARGET...] [--failed]`. */
export async function syncBulkCommand(args: CliArgs, deps: CliDeps): Promise<number> {
  const verb = args.positionals[1] as 'start' | 'cancel';
  const targets = args.positionals.slice(2);
  const action: BulkAction = verb === 'cancel' ? 'cancel' : args.failed ? 'retry-failed' : 'start';
  return withRuntime(args, deps, async (rt) => {
    const out = await bulkAction(rt, action, targets, CLI_USER);
    if (args.json) deps.out(JSON.stringify(out, null, 2));
    else {
      for (const o of out)
        deps.out(`${o.status} ${o.target}${o.jobId ? ` ${o.jobId}` : ''}${o.error ? `: ${o.error}` : ''}`);
      deps.out(`${out.length} task(s)`);
    }
    return out.some((o) => o.status === 'error') ? EXIT_FAILED : 0;
  });
}

/** `mailjobs sync remove TARGET...`: forgets stored tasks (their state and run records stay until they expire). */
export async function syncRemoveCommand(args: CliArgs, deps: CliDeps): Promise<number> {
  const targets = args.positionals.slice(2);
  if (targets.length === 0) throw new UsageError('give the targets of the tasks to remove');
  return withRuntime(args, deps, async (rt) => {
    const { SyncTaskStore } = await import('../jobs/imapsync/task-store.js');
    const n = await new SyncTaskStore(rt.redis, rt.key).remove(targets);
    deps.out(`${n} task(s) removed`);
    return n === targets.length ? 0 : EXIT_FAILED;
  });
}

/** The `--filter` of `status --sync`. */
export function filterOf(value: string | undefined): FleetFilter {
  if (value === undefined) return 'all';
  if (!(FLEET_FILTERS as readonly string[]).includes(value))
    throw new UsageError(`--filter must be one of ${FLEET_FILTERS.join(', ')}`);
  return value as FleetFilter;
}

const size = (bytes: number): string =>
  bytes >= 1e9
    ? `${(bytes / 1e9).toFixed(2)} GB`
    : bytes >= 1e6
      ? `${(bytes / 1e6).toFixed(1)} MB`
      : `${Math.round(bytes / 1e3)} kB`;
const duration = (s: number | null): string =>
  s === null
    ? '?'
    : s >= 3600
      ? `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`
      : s >= 60
        ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
        : `${s}s`;
const percent = (n: number, of: number): string => (of > 0 ? `${Math.floor((n / of) * 100)}%` : '-');

/** `mailjobs status --sync [--filter F] [--json]`: the fleet, one line a task, then the totals. */
export async function syncStatus(rt: Runtime, args: CliArgs, deps: CliDeps): Promise<number> {
  const { syncFleet } = await import('../dashboard/pages/sync-fleet.js');
  const fleet = await syncFleet(rt, filterOf(args.filter));
  const code = fleet.totals.failed > 0 ? 1 : 0;
  if (args.json) {
    deps.out(JSON.stringify(fleet, null, 2));
    return code;
  }
  const t = fleet.totals;
  deps.out(
    `SYNC: ${t.done} of ${t.tasks} accounts done, ${t.running} running, ${t.queued} queued, ${t.failed} failed, ${t.notStarted} not started; ${size(t.bytesMoved)} moved, ${t.messagesCopied} messages; ETA ${duration(t.etaSeconds)}`,
  );
  for (const r of fleet.tasks) {
    const progress =
      r.state === 'running' || r.state === 'done'
        ? `  bytes ${size(r.bytes.copied)}/${size(r.bytes.total)}${r.bytes.totalFinal ? '' : '+'} ${percent(r.bytes.copied, r.bytes.total)}  messages ${r.messages.done}/${r.messages.total} ${percent(r.messages.done, r.messages.total)}  ${size(r.bytesPerSecond)}/s  ETA ${duration(r.etaSeconds)}`
        : '';
    const last = r.lastResult ? `  last ${r.lastResult}${r.lastError ? `: ${r.lastError}` : ''}` : '';
    const waiting = r.waiting ? `  ${r.waiting}` : '';
    deps.out(`  ${r.state.padEnd(11)} ${r.target}  ${r.remote} → ${r.localUser}${waiting}${progress}${last}`);
  }
  return code;
}
