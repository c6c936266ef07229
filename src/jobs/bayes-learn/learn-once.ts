/**
 * The one place a message is taught to Rspamd's Bayes, with the dedup every learner shares
 * (bayes-learn's moves, bayes-bootstrap's folder scan): the learns of one message are taken one
 * at a time (a lock on its digest); a later learn already recorded wins over this one; a
 * message recorded as this class is not sent again; Rspamd's 208 counts as learned before.
 */
import { ProtocolError } from '../../core/errors.js';
import { acquireTargetLock, describeHolder } from '../../core/target-lock.js';
import { learn } from '../../mail/rspamd.js';
import type { JobContext } from '../types.js';
import { LearnedStore, type LearnClass, type LearnedRecord } from './learned.js';

/** What one learn did; bayes-learn's result names the same outcomes. */
export type LearnOnceOutcome =
  | 'learned'
  /** Rspamd or our own record already had it as this class: nothing was changed. */
  | 'already-learned'
  /** A later move of the same message was learned already; this one is out of date. */
  | 'superseded'
  /** Rspamd's 204: too few words for Bayes; retrying cannot change that. */
  | 'too-few-words';

export interface LearnOnceRequest {
  class: LearnClass;
  message: Buffer;
  /** SHA-256 of `message`, hex (`messageDigest`). */
  digest: string;
  /** When the message became this class (ms): of two learns of one message, the later one wins. */
  movedAt: number;
}

/** The store of learned digests under the config's retention. */
export function learnedStore(ctx: Pick<JobContext, 'redis' | 'key' | 'config'>): LearnedStore {
  return new LearnedStore(ctx.redis, ctx.key, ctx.config.bayesLearn.learnedRetentionDays * 86_400);
}

/**
 * Whether the last recorded learn of the message settles `req` without asking Rspamd (what a
 * dry run reports): `superseded` or `already-learned`, or undefined when it would be sent.
 */
export function settledBy(
  last: LearnedRecord | undefined,
  req: Pick<LearnOnceRequest, 'class' | 'movedAt'>,
): { outcome: LearnOnceOutcome; reason: string } | undefined {
  if (last && last.movedAt > req.movedAt)
    return { outcome: 'superseded', reason: `learned as ${last.class} after a later move` };
  if (last?.class === req.class)
    return { outcome: 'already-learned', reason: 'learned before as this class' };
  return undefined;
}

/**
 * Learns `req` unless the record or Rspamd says it is done; records it when Rspamd took it.
 * Throws `ProtocolError` `EBUSY` while another learn of the same message runs, and Rspamd's
 * failures (retryable or not) as `learn` classifies them.
 */
export async function learnOnce(
  req: LearnOnceRequest,
  ctx: Pick<JobContext, 'config' | 'redis' | 'key' | 'jobId' | 'signal'>,
): Promise<{ outcome: LearnOnceOutcome; reason?: string; relearned: boolean }> {
  const { rspamd } = ctx.config;
  const store = learnedStore(ctx);
  const lockKey = ctx.key('lock', 'bayes-learn', 'message', req.digest);
  const lock = await acquireTargetLock(ctx.redis, lockKey, ctx.jobId, 60_000);
  if ('heldBy' in lock) {
    throw new ProtocolError(
      `another move of this message is being learned (${describeHolder(lock.heldBy)})`,
      'EBUSY',
    );
  }
  try {
    const last = await store.get(req.digest);
    const settled = settledBy(last, req);
    if (settled) return { ...settled, relearned: false };
    const answer = await learn(req.class, req.message, {
      controllerUrl: rspamd.controllerUrl,
      password: rspamd.passwordFile?.reveal() ?? '',
      timeoutMs: rspamd.timeoutSeconds * 1000,
      signal: ctx.signal,
    });
    if (!answer.learned && !answer.alreadyLearned)
      return {
        outcome: 'too-few-words',
        ...(answer.reason ? { reason: answer.reason } : {}),
        relearned: false,
      };
    await store.set(req.digest, { class: req.class, movedAt: req.movedAt });
    if (answer.alreadyLearned)
      return {
        outcome: 'already-learned',
        ...(answer.reason ? { reason: answer.reason } : {}),
        relearned: false,
      };
    return { outcome: 'learned', relearned: last !== undefined };
  } finally {
    await lock.release();
  }
}
