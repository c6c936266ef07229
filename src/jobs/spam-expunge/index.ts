/**
 * spam-expunge: daily (config `schedules.spam-expunge` overrides the cron), or on demand for
 * every user (`{}`) or one (`{ "user": "alice" }`), optionally as a dry run. Retention per user:
 * `spamExpunge.retentionDays`, `spamExpunge.perUser`, `infinite`.
 */
import type { JobContext, StatusContext, StatusRow } from '../types.js';
import { defineJob } from '../types.js';
import { spamExpunge, type SpamExpungeResult } from './processor.js';
import { spamExpungeContract, type SpamExpungePayload } from './schema.js';

type Totals = Pick<SpamExpungeResult, 'users' | 'examined' | 'old' | 'expunged' | 'kept' | 'noJunk' | 'errors'>; // prettier-ignore

/** What `status` shows of a run: the totals, the failed users, when. */
interface RunSummary {
  at: number;
  result?: Totals & Record<string, unknown> & { failed: { user: string; error?: string }[] };
  error?: string;
}

const LAST_RUN_TTL_SECONDS = 90 * 86_400;

async function recordRun(ctx: JobContext, target: string, summary: RunSummary): Promise<void> {
  await ctx.redis.set(ctx.key('spam-expunge', 'last', target), JSON.stringify(summary), 'EX', LAST_RUN_TTL_SECONDS); // prettier-ignore
}

async function run(payload: SpamExpungePayload, ctx: JobContext): Promise<SpamExpungeResult> {
  const target = spamExpungeContract.target(payload);
  try {
    const result = await spamExpunge(payload, ctx);
    if (!result.dryRun) {
      const { perUser, ...counts } = result;
      const failed = perUser
        .filter((u) => u.status === 'error' || u.error)
        .slice(0, 20)
        .map((u) => ({ user: u.user, error: u.error }));
      await recordRun(ctx, target, { at: Date.now(), result: { ...counts, failed } });
    }
    return result;
  } catch (err) {
    if (!ctx.signal.aborted) await recordRun(ctx, target, { at: Date.now(), error: (err as Error).message });
    throw err;
  }
}

function ago(ms: number): string {
  const h = Math.round((Date.now() - ms) / 3_600_000);
  return h < 1 ? 'less than an hour ago' : h < 48 ? `${h} h ago` : `${Math.round(h / 24)} days ago`;
}

/** One row: the last run over every user. */
async function lastRunStatus(ctx: StatusContext): Promise<StatusRow[]> {
  const raw = await ctx.redis.get(ctx.key('spam-expunge', 'last', '*'));
  const { retentionDays, perUser } = ctx.config.spamExpunge;
  const policy = `retention ${retentionDays === 'infinite' ? 'infinite' : `${retentionDays} days`}, ${Object.keys(perUser).length} per-user override(s)`; // prettier-ignore
  if (!raw) return [{ target: 'all users', summary: `${policy}; no run yet`, alert: false, details: {} }];
  const last = JSON.parse(raw) as RunSummary;
  const r = last.result;
  const summary = r
    ? `${policy}; last run ${ago(last.at)}: ${r.users} users, ${r.expunged} expunged, ${r.kept} kept, ${r.noJunk} without Junk, ${r.errors} failed`
    : `${policy}; last run ${ago(last.at)} failed: ${last.error ?? '?'}`;
  return [{ target: 'all users', summary, alert: !r || r.errors > 0, details: { ...last } }];
}

export const spamExpungeJob = defineJob({
  ...spamExpungeContract,
  concurrency: 1,
  process: run,
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
