/**
 * imapsync: migrate a remote IMAP account into a local mailbox, incrementally, as often as
 * needed. Payload `{ task }` (a task from the config's `sync:`) or `{ adhoc: {...} }` (credentials
 * sealed). One run per task at a time; configured tasks run on demand unless they have a
 * `schedule`.
 */
import { type StatusContext, type StatusRow, defineJob } from '../types.js';
import { imapsync } from './processor.js';
import { imapsyncContract } from './schema.js';
import { SyncStateStore } from './state.js';

function ago(ms: number | undefined): string {
  if (ms === undefined) return 'never';
  const min = Math.round((Date.now() - ms) / 60_000);
  return min < 1 ? 'just now' : min < 120 ? `${min} min ago` : `${Math.round(min / 60)} h ago`;
}

/** One row per configured task: last run, its outcome, consecutive failures. */
async function taskStatus(ctx: StatusContext): Promise<StatusRow[]> {
  return Promise.all(
    ctx.config.sync.map(async (t) => {
      const stats = await new SyncStateStore(ctx.redis, ctx.key, t.id, 1).stats();
      const last = stats.lastResult as { copied?: number; messagesOnSource?: number } | undefined;
      const failing = stats.consecutiveFailures > 0;
      const summary = !t.enabled
        ? 'disabled'
        : failing
          ? `${stats.lastOutcome ?? 'failed'} (${stats.consecutiveFailures}x): ${stats.lastError ?? ''}`
          : stats.lastRunAt === undefined
            ? 'never run'
            : `${stats.lastOutcome ?? 'ok'} ${ago(stats.lastSuccessAt)}, ${last?.copied ?? 0} copied of ${last?.messagesOnSource ?? 0}`;
      return {
        target: t.id,
        summary: `${t.remote.login.username}@${t.remote.host} → ${t.localUser}: ${summary}`,
        alert: t.enabled && (failing || (stats.lastOutcome !== undefined && stats.lastOutcome !== 'ok')),
        details: { host: t.remote.host, localUser: t.localUser, enabled: t.enabled, ...stats },
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
