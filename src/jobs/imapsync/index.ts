/**
 * imapsync: migrate a remote IMAP account into a local mailbox, incrementally, as often as
 * needed. Payload `{ task }` (a task from the config's `sync:`) or `{ adhoc: {...} }` (credentials
 * sealed). One run per task at a time; configured tasks run on demand unless they have a
 * `schedule`.
 */
import { RunRecordStore } from '../../worker/run-record.js';
import { runPhrase, runSeverity, worst } from '../run-status.js';
import { type StatusContext, type StatusRow, defineJob } from '../types.js';
import { imapsync } from './processor.js';
import { imapsyncContract } from './schema.js';

/** The counts of a task's last success: `ok`, or `partial`/`quota_exceeded` (a warning). */
function copiedText(c: Record<string, unknown>): string {
  const outcome = c.outcome !== undefined && c.outcome !== 'ok' ? `${String(c.outcome)}: ` : '';
  return `${outcome}${Number(c.copied ?? 0)} copied of ${Number(c.messagesOnSource ?? 0)}`;
}

/**
 * One row per configured task: how its runs went (the run record; a failure says its typed
 * outcome, e.g. `auth_failed_source`), a warning when the last sync ended `partial` or
 * `quota_exceeded`.
 */
async function taskStatus(ctx: StatusContext): Promise<StatusRow[]> {
  const runs = new RunRecordStore(ctx.redis, ctx.key);
  return Promise.all(
    ctx.config.sync.map(async (t) => {
      const run = await runs.read('imapsync', t.id);
      const ended = run?.consecutiveFailures === 0 ? run.lastCounts?.outcome : undefined;
      const incomplete = ended !== undefined && ended !== 'ok';
      return {
        target: t.id,
        summary: `${t.remote.login.username}@${t.remote.host} → ${t.localUser}: ${t.enabled ? runPhrase(run, copiedText) : 'disabled'}`,
        severity: t.enabled ? worst(runSeverity(run), incomplete ? 'warning' : 'ok') : 'ok',
        ...(run ? { run } : {}),
        details: { host: t.remote.host, localUser: t.localUser, enabled: t.enabled },
      };
    }),
  );
}

/** The imapsync job: contract, processor, per-task schedules and status rows. */
export const imapsyncJob = defineJob({
  ...imapsyncContract,
  concurrency: 4,
  process: imapsync,
  schedules: (config) =>
    config.sync
      .filter((t) => t.enabled && t.schedule)
      .map((t) => {
        const s = t.schedule!;
        return {
          id: `imapsync:${t.id}`,
          payload: { task: t.id },
          ...('cron' in s
            ? { pattern: s.cron, ...(s.tz ? { tz: s.tz } : {}) }
            : { everyMs: s.everyMinutes * 60_000 }),
        };
      }),
  // A skipped task (disabled) and a dry run copy nothing; a dry run's counts say what it would copy.
  moved: (r) =>
    'skipped' in r || r.dryRun ? [] : [{ action: 'copied', messages: r.copied, bytes: r.bytes }],
  status: taskStatus,
});
