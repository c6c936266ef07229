/**
 * The fleet view of imapsync: every task (configured in `sync:`, or imported into the task
 * store) with its state, progress by bytes and by messages, rate, ETA, last result and error,
 * and the totals (accounts done of N, bytes moved, ETA for all); bulk Start, Cancel and Retry
 * failed. The Synchronization page and `mailjobs status --sync` / `mailjobs sync ...` read the
 * same rows. Built from what exists: the run record (how the last run ended), the running job's
 * progress, the job's result counts (`lastCounts`).
 */
import { type EnqueueOutcome } from '../../client/enqueue.js';
import { SecretBox } from '../../core/crypto.js';
import { type ImportError, type ImportRow, planImport, sealPlan } from '../../jobs/imapsync/import.js';
import { SyncTaskStore } from '../../jobs/imapsync/task-store.js';
import type { Runtime } from '../../runtime.js';
import { type RunRecord, RunRecordStore } from '../../worker/run-record.js';
import { HttpError, type SessionUser } from '../types.js';
import { cancelJob, currentJob, enqueueFor, type JobView } from './jobs.js';

const JOB = 'imapsync';

export const FLEET_STATES = [
  'running',
  'queued',
  'failed',
  'cancelled',
  'done',
  'not-started',
  'disabled',
] as const;
export type FleetState = (typeof FLEET_STATES)[number];
/** The filters: a state, or `running` for running and queued alike. */
export const FLEET_FILTERS = ['all', 'failed', 'running', 'not-started', 'done'] as const;
export type FleetFilter = (typeof FLEET_FILTERS)[number];

export interface FleetTask {
  target: string;
  kind: 'config' | 'imported';
  localUser: string;
  remote: string;
  state: FleetState;
  jobId?: string;
  /** Messages: done (copied or already there) of those on the source. */
  messages: { copied: number; done: number; total: number };
  /** Bytes copied of the bytes to copy (`totalFinal`: every folder is listed, the total will not grow). */
  bytes: { copied: number; total: number; totalFinal: boolean };
  /** Bytes per second of the running or last run. */
  bytesPerSecond: number;
  etaSeconds: number | null;
  /** The last finished run: `ok`, `partial`, `quota_exceeded`, a failure's code, or `cancelled`. */
  lastResult?: string;
  lastError?: string;
  lastRunAt?: number;
  /** A queued task held back by a cap or a throttled host (imapsync's slots.ts): why, and till when. */
  waiting?: string;
}

export interface FleetTotals {
  tasks: number;
  done: number;
  failed: number;
  running: number;
  queued: number;
  notStarted: number;
  messagesCopied: number;
  bytesMoved: number;
  /** A rough estimate: the running tasks' ETAs, and the tasks not done at the mean pace of done ones. */
  etaSeconds: number | null;
}

export interface Fleet {
  tasks: FleetTask[];
  totals: FleetTotals;
}

interface Listed {
  target: string;
  kind: FleetTask['kind'];
  localUser: string;
  remote: string;
  enabled: boolean;
  payload: Record<string, unknown>;
}

/** Every task: the config's, then the stored ones, each with the payload that starts it. */
async function listTasks(rt: Runtime): Promise<Listed[]> {
  const configured = rt.config.sync.map((t) => ({
    target: t.id,
    kind: 'config' as const,
    localUser: t.localUser,
    remote: `${t.remote.login.username}@${t.remote.host}`,
    enabled: t.enabled,
    payload: { task: t.id },
  }));
  const stored = (await new SyncTaskStore(rt.redis, rt.key).list()).map((s) => ({
    target: s.target,
    kind: 'imported' as const,
    localUser: s.task.localUser,
    remote: `${s.task.remote.username}@${s.task.remote.host}`,
    enabled: true,
    payload: { adhoc: s.task },
  }));
  return [...configured, ...stored];
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** The progress a run leaves when it goes back to wait (`{ waiting: 'slot' | 'host paused', ... }`), said. */
function waitingText(p: Record<string, unknown>): string | undefined {
  const host = typeof p.host === 'string' ? p.host : 'the remote host';
  if (p.waiting === 'slot') return `waiting for a free slot (${String(p.cap)})`;
  if (p.waiting === 'host paused') {
    const until = num(p.until);
    return `${host} throttled us: paused${until ? ` until ${new Date(until).toISOString()}` : ''}`;
  }
  return undefined;
}

function stateOf(t: Listed, job: JobView | undefined, run: RunRecord | undefined): FleetState {
  if (job) return job.state === 'active' ? 'running' : 'queued';
  if (!t.enabled) return 'disabled';
  if (!run?.lastOutcome) return 'not-started';
  return run.lastOutcome === 'success' ? 'done' : run.lastOutcome === 'failure' ? 'failed' : 'cancelled';
}

function rowOf(t: Listed, job: JobView | undefined, run: RunRecord | undefined): FleetTask {
  const state = stateOf(t, job, run);
  const row: FleetTask = {
    target: t.target,
    kind: t.kind,
    localUser: t.localUser,
    remote: t.remote,
    state,
    messages: { copied: 0, done: 0, total: 0 },
    bytes: { copied: 0, total: 0, totalFinal: false },
    bytesPerSecond: 0,
    etaSeconds: null,
  };
  if (job) row.jobId = job.id;
  if (run?.lastOutcome) {
    row.lastResult =
      run.lastOutcome === 'success'
        ? String(run.lastCounts?.outcome ?? 'ok')
        : run.lastOutcome === 'failure'
          ? (run.lastErrorCode ?? 'failed')
          : 'cancelled';
    row.lastRunAt = Math.max(run.lastSuccessAt ?? 0, run.lastFailureAt ?? 0, run.lastCancelledAt ?? 0);
  }
  if (run?.lastOutcome === 'failure' && run.lastError) row.lastError = run.lastError;
  const p = (job?.progress ?? null) as Record<string, unknown> | null;
  if (state === 'queued' && p && typeof p === 'object') {
    const waiting = waitingText(p);
    if (waiting) row.waiting = waiting;
  }
  if (state === 'running' && p && typeof p === 'object') {
    const copied = num(p.copied);
    row.messages = { copied, done: copied + num(p.skipped), total: num(p.total) };
    row.bytes = { copied: num(p.bytes), total: num(p.bytesTotal), totalFinal: p.bytesTotalFinal === true };
    const seconds = job?.processedOn ? Math.max(1, (Date.now() - job.processedOn) / 1000) : 0;
    row.bytesPerSecond = seconds ? Math.round(row.bytes.copied / seconds) : 0;
    row.etaSeconds =
      row.bytes.totalFinal && row.bytesPerSecond > 0
        ? Math.round((row.bytes.total - row.bytes.copied) / row.bytesPerSecond)
        : typeof p.etaSeconds === 'number'
          ? p.etaSeconds
          : null;
  } else if (state === 'done' && run?.lastCounts) {
    const c = run.lastCounts;
    const total = num(c.messagesOnSource);
    row.messages = { copied: num(c.copied), done: num(c.copied) + num(c.alreadyThere), total };
    row.bytes = { copied: num(c.bytes), total: num(c.bytes), totalFinal: true };
    row.bytesPerSecond = Math.round(num(c.megabytesPerSecond) * 1048576);
    row.etaSeconds = 0;
  }
  return row;
}

function totalsOf(tasks: FleetTask[], runs: Map<string, RunRecord>): FleetTotals {
  const count = (...s: FleetState[]) => tasks.filter((t) => s.includes(t.state)).length;
  const running = tasks.filter((t) => t.state === 'running');
  const durations = tasks
    .filter((t) => t.state === 'done')
    .map((t) => runs.get(t.target)?.lastDurationMs ?? 0)
    .filter((d) => d > 0);
  // Failed and cancelled tasks run again only when asked: not in the ETA.
  const pending = count('queued', 'not-started');
  const mean = durations.length ? durations.reduce((a, b) => a + b, 0) / durations.length / 1000 : undefined;
  const runningEta = running.map((t) => t.etaSeconds);
  const unknown = runningEta.some((e) => e === null) || (pending > 0 && mean === undefined);
  const parallel = Math.max(1, running.length);
  const eta = Math.max(0, ...runningEta.map((e) => e ?? 0)) + (pending * (mean ?? 0)) / parallel;
  return {
    tasks: tasks.filter((t) => t.state !== 'disabled').length,
    done: count('done'),
    failed: count('failed'),
    running: running.length,
    queued: count('queued'),
    notStarted: count('not-started'),
    messagesCopied: tasks.reduce((n, t) => n + t.messages.copied, 0),
    bytesMoved: tasks.reduce((n, t) => n + t.bytes.copied, 0),
    etaSeconds: unknown ? null : Math.round(eta),
  };
}

const matches = (f: FleetFilter, s: FleetState): boolean =>
  f === 'all' ||
  (f === 'failed' && (s === 'failed' || s === 'cancelled')) ||
  (f === 'running' && (s === 'running' || s === 'queued')) ||
  f === s;

/** The fleet: every task's row (those matching `filter`) and the totals of all of them. */
export async function syncFleet(rt: Runtime, filter: FleetFilter = 'all'): Promise<Fleet> {
  const listed = await listTasks(rt);
  const runs = new Map((await new RunRecordStore(rt.redis, rt.key).list(JOB)).map((r) => [r.target, r]));
  const tasks = await Promise.all(
    listed.map(async (t) => rowOf(t, await currentJob(rt, JOB, t.target), runs.get(t.target))),
  );
  return { tasks: tasks.filter((t) => matches(filter, t.state)), totals: totalsOf(tasks, runs) };
}

/** What a bulk action did to one task. */
export interface BulkOutcome {
  target: string;
  status: EnqueueOutcome['status'] | 'cancelling' | 'removed' | 'error';
  jobId?: string;
  error?: string;
}

export type BulkAction = 'start' | 'cancel' | 'retry-failed';

/**
 * Starts (queues), cancels or retries the tasks named (all of them when `targets` is empty):
 * start skips running and queued tasks (one job per task), retry-failed starts failed and
 * cancelled ones only, cancel stops running and queued ones.
 */
export async function bulkAction(
  rt: Runtime,
  action: BulkAction,
  targets: readonly string[],
  user: SessionUser,
): Promise<BulkOutcome[]> {
  const listed = await listTasks(rt);
  const unknown = targets.filter((t) => !listed.some((l) => l.target === t));
  if (unknown.length > 0) throw new HttpError(404, `no sync task ${unknown.map((u) => `"${u}"`).join(', ')}`);
  const chosen = targets.length ? listed.filter((l) => targets.includes(l.target)) : listed;
  const runs = new Map((await new RunRecordStore(rt.redis, rt.key).list(JOB)).map((r) => [r.target, r]));
  const out: BulkOutcome[] = [];
  for (const t of chosen) {
    const job = await currentJob(rt, JOB, t.target);
    const state = stateOf(t, job, runs.get(t.target));
    try {
      if (action === 'cancel') {
        if (job) out.push({ target: t.target, ...(await cancelJob(rt, JOB, job.id, user)) });
        continue;
      }
      if (state === 'disabled' || job) continue;
      if (action === 'retry-failed' && state !== 'failed' && state !== 'cancelled') continue;
      const r = await enqueueFor(rt, JOB, t.payload);
      out.push({ target: t.target, status: r.status, jobId: r.jobId });
    } catch (err) {
      out.push({ target: t.target, status: 'error', error: (err as Error).message });
    }
  }
  rt.log.info({ action, by: user.name, tasks: out.length }, 'sync bulk action');
  return out;
}

/** What an import did: the preview rows, the errors by line, and what it stored (nothing when any line is bad). */
export interface ImportOutcome {
  rows: (ImportRow & { exists: boolean })[];
  errors: ImportError[];
  created: number;
  replaced: number;
}

/**
 * Reads an import file's text (never kept, never logged) into tasks; with `create` and no bad
 * line, seals their passwords and stores them all at once. A task already stored is replaced.
 */
export async function importTasks(rt: Runtime, csv: string, create: boolean): Promise<ImportOutcome> {
  const plan = planImport(csv);
  const store = new SyncTaskStore(rt.redis, rt.key);
  const existing = await store.existing(plan.rows.map((r) => r.target));
  const rows = plan.rows.map((r) => ({ ...r, exists: existing.has(r.target) }));
  const outcome = { rows, errors: plan.errors, created: 0, replaced: 0 };
  if (!create || plan.errors.length > 0) return outcome;
  await store.put(await sealPlan(plan, new SecretBox(rt.config.secrets.keyFile)));
  outcome.replaced = rows.filter((r) => r.exists).length;
  outcome.created = rows.length - outcome.replaced;
  rt.log.info({ created: outcome.created, replaced: outcome.replaced }, 'sync tasks imported');
  return outcome;
}
