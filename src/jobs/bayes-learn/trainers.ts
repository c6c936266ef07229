/**
 * Who may train Bayes. The mail module's rule: when a group called `spamtrainers` exists, only
 * its members' moves train; when it does not, everyone's do. Or the config lists the trainers.
 */
import type { BayesLearnConfig } from '../../config/junk.js';
import { groupMembers } from '../../core/unix-group.js';

/** The decision for one user, with the reason for the log and the result. */
export interface TrainerDecision {
  allowed: boolean;
  reason: string;
}

/** Group lookups are cached this long: a burst of moves asks getent once. */
const CACHE_MS = 60_000;
const cache = new Map<string, { at: number; members: Promise<string[] | undefined> }>();

/** The group's members, cached; a failed lookup is not cached. */
function cachedMembers(group: string, now: number): Promise<string[] | undefined> {
  const hit = cache.get(group);
  if (hit && now - hit.at < CACHE_MS) return hit.members;
  const members = groupMembers(group);
  cache.set(group, { at: now, members });
  members.catch(() => cache.delete(group));
  return members;
}

/** Whether `user`'s moves train Bayes under `config.trainers`. */
export async function mayTrain(
  user: string,
  trainers: BayesLearnConfig['trainers'],
  now = Date.now(),
): Promise<TrainerDecision> {
  if (Array.isArray(trainers)) {
    return trainers.includes(user)
      ? { allowed: true, reason: 'listed in bayesLearn.trainers' }
      : { allowed: false, reason: 'not listed in bayesLearn.trainers' };
  }
  const members = await cachedMembers(trainers.group, now);
  if (members === undefined) return { allowed: true, reason: `no group ${trainers.group}: everyone trains` };
  return members.includes(user)
    ? { allowed: true, reason: `member of ${trainers.group}` }
    : { allowed: false, reason: `not a member of ${trainers.group}` };
}

/**
 * The trainers by name: the configured list, or the group's members; undefined when the group
 * does not exist (everyone trains).
 */
export async function listTrainers(trainers: BayesLearnConfig['trainers']): Promise<string[] | undefined> {
  if (Array.isArray(trainers)) return [...trainers];
  return cachedMembers(trainers.group, Date.now());
}

/** Who may train, in words, for `mailjobs status`. */
export async function describeTrainers(trainers: BayesLearnConfig['trainers']): Promise<string> {
  if (Array.isArray(trainers)) return `only ${trainers.join(', ')} (bayesLearn.trainers)`;
  const members = await cachedMembers(trainers.group, Date.now());
  if (members === undefined) return `everyone (no group ${trainers.group})`;
  return `members of group ${trainers.group}: ${members.join(', ') || '(none listed)'}`;
}

/** Forgets cached group lookups (tests that create or change the group). */
export function forgetGroupCache(): void {
  cache.clear();
}
