/**
 * quarantine: every minute (config `schedules.quarantine` overrides) while `quarantine.enabled`:
 * index the quarantine mailbox, notify `quarantine.notifyTo` (each message, or a digest at
 * `quarantine.digestCron`), expunge after `quarantine.retentionDays`. Release and delete:
 * release.ts (CLI `mailjobs quarantine`, the dashboard's Quarantine page).
 */
import { RunRecordStore } from '../../worker/run-record.js';
import { runPhrase, runSeverity } from '../run-status.js';
import type { StatusContext, StatusRow } from '../types.js';
import { defineJob } from '../types.js';
import { runQuarantine } from './processor.js';
import { quarantineContract } from './schema.js';
import { QuarantineStore } from './store.js';

async function quarantineStatus(ctx: StatusContext): Promise<StatusRow[]> {
  const cfg = ctx.config.quarantine;
  if (!cfg.enabled) return [];
  const run = await new RunRecordStore(ctx.redis, ctx.key).read('quarantine', 'quarantine');
  const total = await new QuarantineStore(ctx.redis, ctx.key).count();
  const counts = (c: Record<string, unknown>): string =>
    `${Number(c.indexed ?? 0)} new, ${Number(c.notified ?? 0)} notified, ${Number(c.expunged ?? 0)} expunged${c.mailError ? `; notification fails: ${String(c.mailError)}` : ''}`;
  return [
    {
      target: cfg.mailbox,
      summary: `${total} message(s) in quarantine; ${run ? `last run ${runPhrase(run, counts)}` : 'no run yet'}`,
      severity: runSeverity(run),
      ...(run ? { run } : {}),
      details: { messages: total },
    },
  ];
}

export const quarantineJob = defineJob({
  ...quarantineContract,
  concurrency: 1,
  process: runQuarantine,
  defaultSchedule: { schedule: { everySeconds: 60 }, payload: {} },
  status: quarantineStatus,
});
