/**
 * bayes-bootstrap: on demand only (`mailjobs bayes bootstrap`, the Filter page's "Bootstrap
 * Bayes", or any producer): learn the trainers' Junk as spam and their old read INBOX as ham,
 * so Bayes reaches `min_learns` without waiting weeks for Junk moves. `mailjobs status` shows
 * the last run.
 */
import { RunRecordStore } from '../../worker/run-record.js';
import { runPhrase, runSeverity } from '../run-status.js';
import type { StatusContext, StatusRow } from '../types.js';
import { defineJob } from '../types.js';
import { bayesBootstrap } from './processor.js';
import { bayesBootstrapContract } from './schema.js';

/** The counts of a run, spam and ham apart. */
export function bootstrapText(c: Record<string, unknown>): string {
  const n = (k: string) => Number(c[k] ?? 0);
  const what = c.dryRun
    ? `would learn ${n('spamWouldLearn')} spam, ${n('hamWouldLearn')} ham`
    : `learned ${n('spamLearned')} spam, ${n('hamLearned')} ham`;
  const skipped = `${n('alreadyLearned')} already learned, ${n('superseded')} superseded by a later move, ${n('declined')} declined by Rspamd`;
  const users = `${n('users')} user(s)${n('notTrainers') ? `, ${n('notTrainers')} not trainers` : ''}${n('loginRefused') ? `, ${n('loginRefused')} login refused` : ''}`;
  return `${c.dryRun ? 'dry run: ' : ''}${what}; ${skipped}; ${users}`;
}

async function lastRunStatus(ctx: StatusContext): Promise<StatusRow[]> {
  const run = await new RunRecordStore(ctx.redis, ctx.key).read('bayes-bootstrap', 'trainers');
  if (!run) return [];
  return [
    {
      target: 'trainers',
      summary: `last run ${runPhrase(run, bootstrapText)}`,
      // An on-demand run that failed is worth a look, not a page at night.
      severity: runSeverity(run) === 'ok' ? 'ok' : 'warning',
      run,
      details: {},
    },
  ];
}

export const bayesBootstrapJob = defineJob({
  ...bayesBootstrapContract,
  concurrency: 1,
  process: bayesBootstrap,
  status: lastRunStatus,
});
