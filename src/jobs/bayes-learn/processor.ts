/**
 * bayes-learn: teach Rspamd's Bayes one message a user moved. In order: too big → not learned;
 * not a trainer → dropped (logged); a later move of the same message already recorded → this
 * one is stale; already learned as this class → nothing to do; else `/learnspam|/learnham` on
 * the controller and record it. Rspamd's 208 ("already learned") is success. Rspamd away or
 * failing is thrown, so BullMQ retries with backoff and the message is not lost.
 */
import { ProtocolError } from '../../core/errors.js';
import { acquireTargetLock, describeHolder } from '../../core/target-lock.js';
import { learn } from '../../mail/rspamd.js';
import type { JobContext } from '../types.js';
import { LearnedStore } from './learned.js';
import { messageDigest, type BayesLearnPayload } from './schema.js';
import { mayTrain } from './trainers.js';

export interface BayesLearnResult extends Record<string, unknown> {
  user: string;
  class: 'spam' | 'ham';
  /** First 16 hex digits of the message's SHA-256, to find it in logs. */
  digest: string;
  bytes: number;
  outcome:
    | 'learned'
    /** Rspamd or our own record already had it as this class: nothing was changed. */
    | 'already-learned'
    | 'not-a-trainer'
    | 'too-big'
    /** A later move of the same message was learned already; this one is out of date. */
    | 'superseded'
    /** Rspamd's 204: too few words for Bayes; retrying cannot change that. */
    | 'too-few-words';
  reason?: string;
}

export async function bayesLearn(payload: BayesLearnPayload, ctx: JobContext): Promise<BayesLearnResult> {
  const { bayesLearn: cfg, rspamd } = ctx.config;
  const message = Buffer.from(payload.message, 'base64');
  const digest = messageDigest(payload.message);
  const movedAt = payload.movedAt ?? Date.now();
  const store = new LearnedStore(ctx.redis, ctx.key, cfg.learnedRetentionDays * 86_400);
  const base = {
    user: payload.user,
    class: payload.class,
    digest: digest.slice(0, 16),
    bytes: message.length,
  };
  const done = async (outcome: BayesLearnResult['outcome'], reason?: string): Promise<BayesLearnResult> => {
    await store.count(outcome === 'learned' ? `learned-${payload.class}` : outcome);
    if (outcome !== 'learned') ctx.log.info({ ...base, outcome, reason }, 'not learned');
    return { ...base, outcome, ...(reason ? { reason } : {}) };
  };

  if (message.length > cfg.maxMessageKilobytes * 1024) {
    return done('too-big', `over bayesLearn.maxMessageKilobytes (${cfg.maxMessageKilobytes})`);
  }
  const trainer = await mayTrain(payload.user, cfg.trainers);
  if (!trainer.allowed) return done('not-a-trainer', trainer.reason);

  // Moves of one message (spam, then ham at once) are learned one at a time, in move order.
  const lockKey = ctx.key('lock', 'bayes-learn', 'message', digest);
  const lock = await acquireTargetLock(ctx.redis, lockKey, ctx.jobId, 60_000);
  if ('heldBy' in lock) {
    throw new ProtocolError(
      `another move of this message is being learned (${describeHolder(lock.heldBy)})`,
      'EBUSY',
    );
  }
  try {
    const last = await store.get(digest);
    if (last && last.movedAt > movedAt)
      return done('superseded', `learned as ${last.class} after a later move`);
    if (last?.class === payload.class) return done('already-learned', 'learned before as this class');
    const answer = await learn(payload.class, message, {
      controllerUrl: rspamd.controllerUrl,
      password: rspamd.passwordFile?.reveal() ?? '',
      timeoutMs: rspamd.timeoutSeconds * 1000,
      signal: ctx.signal,
    });
    if (!answer.learned && !answer.alreadyLearned) return done('too-few-words', answer.reason);
    await store.set(digest, { class: payload.class, movedAt });
    if (answer.alreadyLearned) return done('already-learned', answer.reason);
    ctx.log.info({ ...base, relearned: last !== undefined }, `learned as ${payload.class}`);
    return done('learned');
  } finally {
    await lock.release();
  }
}
