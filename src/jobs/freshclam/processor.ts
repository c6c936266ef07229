/**
 * freshclam: run freshclam with the admin's freshclam.conf, then make sure clamd runs the new
 * database before succeeding (see reload.ts). How runs went (last success, last error, failures
 * in a row) is the worker's run record, which `status` reads.
 */
import type { Config } from '../../config/schema.js';
import { PermanentJobError, ProtocolError } from '../../core/errors.js';
import { readDailyVersion, readFreshclamSettings, type FreshclamSettings } from '../../mail/clamav-db.js';
import { ClamdClient } from '../../mail/clamd.js';
import {
  runFreshclam,
  type FreshclamDatabase,
  type FreshclamReport,
  type FreshclamRunOptions,
} from '../../mail/freshclam.js';
import type { JobContext } from '../types.js';
import { syncClamd, type ClamdControl, type ReloadOutcome } from './reload.js';
import type { FreshclamPayload } from './schema.js';

export type FreshclamResult = {
  /** Database files updated in this run, e.g. `["daily.cld", "extra.hdb"]`. */
  updated: string[];
  upToDate: string[];
  databases: FreshclamDatabase[];
  clamd: {
    engine: string;
    /** daily version clamd runs now, and ran before the update. */
    dbVersion?: number;
    previousDbVersion?: number;
    dbDate?: string;
    reload: ReloadOutcome;
    reloadSent: boolean;
    waitedMs: number;
  };
  warnings: string[];
  durationMs: number;
};

/** How the job reaches freshclam, the disk and clamd: replaced in unit tests. */
export interface FreshclamDeps {
  readSettings(file: string): Promise<FreshclamSettings>;
  runFreshclam(opts: FreshclamRunOptions): Promise<FreshclamReport>;
  readDailyVersion(dir: string): Promise<number | undefined>;
  clamd(config: Config): ClamdControl;
  pollMs?: number;
}

export const realDeps: FreshclamDeps = {
  readSettings: readFreshclamSettings,
  runFreshclam,
  readDailyVersion,
  clamd: (config) => new ClamdClient(config.clamd, { timeoutMs: config.clamd.timeoutSeconds * 1000 }),
};

function failureOf(report: FreshclamReport): Error | undefined {
  const p = report.problem;
  if (!p) return undefined;
  const message = `freshclam: ${p.message}`;
  return p.retryable ? new ProtocolError(message, p.code) : new PermanentJobError(message, p.code);
}

/** What clamd said, or undefined when it does not answer (the update may still go on). */
async function versionBefore(clamd: ClamdControl, signal: AbortSignal) {
  return clamd.version({ signal }).catch(() => undefined);
}

export async function updateSignatures(
  _payload: FreshclamPayload,
  ctx: JobContext,
  deps: FreshclamDeps = realDeps,
): Promise<FreshclamResult> {
  const cfg = ctx.config.freshclam;
  const started = Date.now();
  const settings = await deps.readSettings(cfg.configFile);
  const clamd = deps.clamd(ctx.config);
  const before = await versionBefore(clamd, ctx.signal);
  await ctx.progress({ phase: 'freshclam' });
  const report = await deps.runFreshclam({
    command: cfg.command,
    configFile: cfg.configFile,
    timeoutMs: cfg.timeoutSeconds * 1000,
    signal: ctx.signal,
  });
  const updated = report.databases.filter((d) => d.status === 'updated');
  for (const d of updated) {
    await ctx.trail(
      `${d.name} updated (version ${d.version ?? 'custom'}, ${d.signatures ?? '?'} signatures)`,
    );
  }
  const failure = failureOf(report);
  if (failure) throw failure;
  const onDisk = await deps.readDailyVersion(settings.databaseDirectory);
  await ctx.progress({ phase: 'clamd', updated: updated.length, dailyOnDisk: onDisk ?? null });
  const sync = await syncClamd(clamd, {
    onDisk,
    updated: updated.map((d) => d.name),
    notified: report.clamdNotified,
    timeoutMs: cfg.reloadTimeoutSeconds * 1000,
    ...(deps.pollMs ? { pollMs: deps.pollMs } : {}),
    signal: ctx.signal,
  }).catch((err: unknown) => {
    if (err instanceof ProtocolError && err.code !== 'ERELOAD') {
      throw new ProtocolError(`signatures are on disk, but clamd did not answer: ${err.message}`, err.code);
    }
    throw err;
  });
  if (sync.reload !== 'not-needed') await ctx.trail(`clamd: reload ${sync.reload}, now ${sync.version.raw}`);
  const v = sync.version;
  const result: FreshclamResult = {
    updated: updated.map((d) => d.name),
    upToDate: report.databases.filter((d) => d.status === 'up-to-date').map((d) => d.name),
    databases: report.databases,
    clamd: {
      engine: v.engine,
      ...(v.dbVersion !== undefined ? { dbVersion: v.dbVersion } : {}),
      ...(before?.dbVersion !== undefined ? { previousDbVersion: before.dbVersion } : {}),
      ...(v.dbDate ? { dbDate: v.dbDate.toISOString() } : {}),
      reload: sync.reload,
      reloadSent: sync.reloadSent,
      waitedMs: sync.waitedMs,
    },
    warnings: report.warnings.slice(0, 20),
    durationMs: Date.now() - started,
  };
  return result;
}
