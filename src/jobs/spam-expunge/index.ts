/**
 * spam-expunge: daily (config `schedules.spam-expunge` overrides the cron), or on demand for
 * every user (`{}`) or one (`{ "user": "alice" }`), optionally as a dry run. Retention per user:
 * `spamExpunge.retentionDays`, `spamExpunge.perUser`, `infinite`.
 */
import { RunRecordStore } from '../../worker/run-record.js';
import { runPhrase, runSeverity, worst } from '../run-status.js';
import type { StatusContext, StatusRow } from '../types.js';
import { defineJob } from '../types.js';
import { spamExpunge } from './processor.js';
import { ALL_USERS, spamExpungeContract } from './schema.js';

/** The counts of the last run over every user. */
function totalsText(c: Record<string, unknown>): string {
  const n = (k: string) => Number(c[k] ?? 0);
  const expunged = c.dryRun ? `${n('old')} would be expunged` : `${n('expunged')} expunged`;
  return `${c.dryRun ? 'dry run: ' : ''}${n('users')} users, ${expunged}, ${n('kept')} kept, ${n('noJunk')} without Junk, ${n('errors')} failed`;
}

/** One row: the last run over every user (a warning when some users failed). */
async function lastRunStatus(ctx: StatusContext): Promise<StatusRow[]> {
  const run = await new RunRecordStore(ctx.redis, ctx.key).read('spam-expunge', ALL_USERS);
  const { retentionDays, perUser } = ctx.config.spamExpunge;
  const policy = `retention ${retentionDays === 'infinite' ? 'infinite' : `${retentionDays} days`}, ${Object.keys(perUser).length} per-user override(s)`;
  const usersFailed = run?.consecutiveFailures === 0 && Number(run.lastCounts?.errors ?? 0) > 0;
  return [
    {
      target: 'all users',
      summary: `${policy}; ${run ? `last run ${runPhrase(run, totalsText)}` : 'no run yet'}`,
      severity: worst(runSeverity(run), usersFailed ? 'warning' : 'ok'),
      ...(run ? { run } : {}),
      details: {},
    },
  ];
}

export const spamExpungeJob = defineJob({
  ...spamExpungeContract,
  concurrency: 1,
  process: spamExpunge,
  defaultSchedule: { schedule: { cron: '30 3 * * *' }, payload: {} },
  status: lastRunStatus,
  // Only when the users come from doveadm; a fixed list needs no program.
  hostCommands: ({ spamExpunge: s }) =>
    s.users === 'doveadm'
      ? [
          {
            command: s.doveadm[0]!,
            setting: 'spamExpunge.doveadm (or a spamExpunge.users list)',
            providedBy: 'Dovecot',
          },
        ]
      : [],
});
