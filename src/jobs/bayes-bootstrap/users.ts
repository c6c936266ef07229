/**
 * Whose mailboxes a bayes-bootstrap run reads: the users the payload names, each checked
 * against `bayesLearn.trainers` exactly as a Junk move is (a non-trainer is reported, never
 * read), or every trainer. When the trainers group does not exist everyone trains, and
 * "everyone" is whom spam-expunge cleans (`spamExpunge.users`: doveadm's list, or the config's).
 */
import { PermanentJobError } from '../../core/errors.js';
import { listDovecotUsers } from '../../mail/dovecot.js';
import { listTrainers, mayTrain } from '../bayes-learn/trainers.js';
import type { JobContext } from '../types.js';

export interface BootstrapUsers {
  trainers: string[];
  refused: { user: string; reason: string }[];
}

export async function bootstrapUsers(named: string[] | undefined, ctx: JobContext): Promise<BootstrapUsers> {
  const { trainers } = ctx.config.bayesLearn;
  if (named) {
    const out: BootstrapUsers = { trainers: [], refused: [] };
    for (const user of new Set(named)) {
      const d = await mayTrain(user, trainers);
      if (d.allowed) out.trainers.push(user);
      else out.refused.push({ user, reason: d.reason });
    }
    if (out.trainers.length === 0) {
      const who = out.refused.map((r) => `${r.user} (${r.reason})`).join(', ');
      throw new PermanentJobError(`users: none may train Bayes: ${who}`, 'ENOTTRAINER');
    }
    return out;
  }
  const listed = await listTrainers(trainers);
  if (listed && listed.length === 0) {
    throw new PermanentJobError(
      `users: the trainers group ${(trainers as { group: string }).group} has no members`,
      'ENOTTRAINER',
    );
  }
  if (listed) return { trainers: listed, refused: [] };
  const { users, doveadm } = ctx.config.spamExpunge;
  const everyone = users === 'doveadm' ? await listDovecotUsers(doveadm, { signal: ctx.signal }) : [...users];
  return { trainers: everyone, refused: [] };
}
