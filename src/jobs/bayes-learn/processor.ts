/**
 * bayes-learn: teach Rspamd's Bayes one message a user moved. In order: too big → not learned;
 * not a trainer → dropped (logged); a later move of the same message already recorded → this
 * one is stale; already learned as this class → nothing to do; else `/learnspam|/learnham` on
 * the controller and record it. Rspamd's 208 ("already learned") is success. Rspamd away or
 * failing is thrown, so BullMQ retries with backoff and the message is not lost. The message
 * itself is read from its Redis key (body.ts), which is deleted once the job is done or given up.
 */
import { PermanentJobError, ProtocolError } from '../../core/errors.js';
import { acquireTargetLock, describeHolder } from '../../core/target-lock.js';
import { learn } from '../../mail/rspamd.js';
import { isCancelReason } from '../../worker/cancel.js';
import type { JobContext } from '../types.js';
import { MessageBodies } from './body.js';
import { LearnedStore } from './learned.js';
import { bayesLearnContract, messageDigest, type BayesLearnPayload } from './schema.js';
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
  const bodies = new MessageBodies(ctx.redis, ctx.key);
  try {
    const result = await learnStored(payload, ctx, bodies);
    await bodies.remove(payload.bodyId);
    return result;
  } catch (err) {
    if (givenUp(err, ctx)) await bodies.remove(payload.bodyId).catch(() => undefined);
    throw err;
  }
}

/** True when BullMQ runs this job no more: refused for good, cancelled, or its last attempt. */
function givenUp(err: unknown, ctx: JobContext): boolean {
  // Aborted by shutdown: the job goes back to the queue and needs its message again.
  if (ctx.signal.aborted) return isCancelReason(ctx.signal.reason);
  return err instanceof PermanentJobError || ctx.attempt >= bayesLearnContract.retry.attempts;
}

/** The stored message, checked against the size and digest its job names. */
async function loadMessage(payload: BayesLearnPayload, bodies: MessageBodies): Promise<Buffer> {
  const message = await bodies.get(payload.bodyId);
  if (!message) {
    throw new PermanentJobError('bodyId: the message is no longer in Redis (its key expired or was removed): not learned', 'EBODYGONE'); // prettier-ignore
  }
  if (message.length !== payload.bytes || messageDigest(message) !== payload.sha256) {
    throw new PermanentJobError('sha256: the stored message does not match the job\'s bytes and sha256: not learned', 'EBODYMISMATCH'); // prettier-ignore
  }
  return message;
}

async function learnStored(
  payload: BayesLearnPayload,
  ctx: JobContext,
  bodies: MessageBodies,
): Promise<BayesLearnResult> {
  const { bayesLearn: cfg, rspamd } = ctx.config;
  const digest = payload.sha256;
  const movedAt = payload.movedAt ?? Date.now();
  const store = new LearnedStore(ctx.redis, ctx.key, cfg.learnedRetentionDays * 86_400);
  const base = {
    user: payload.user,
    class: payload.class,
    digest: digest.slice(0, 16),
    bytes: payload.bytes,
  };
  const done = async (outcome: BayesLearnResult['outcome'], reason?: string): Promise<BayesLearnResult> => {
    await store.count(outcome === 'learned' ? `learned-${payload.class}` : outcome);
    if (outcome !== 'learned') ctx.log.info({ ...base, outcome, reason }, 'not learned');
    return { ...base, outcome, ...(reason ? { reason } : {}) };
  };

  if (payload.bytes > cfg.maxMessageKilobytes * 1024) {
    return done('too-big', `over bayesLearn.maxMessageKilobytes (${cfg.maxMessageKilobytes})`);
  }
  const trainer = await mayTrain(payload.user, cfg.trainers);
  if (!trainer.allowed) return done('not-a-trainer', trainer.reason);
  const message = await loadMessage(payload, bodies);

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
