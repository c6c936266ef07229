/**
 * bayes-learn: teach Rspamd's Bayes one message a user moved. In order: too big → not learned;
 * not a trainer → dropped (logged); then `learnOnce` (learn-once.ts): the dedup shared with
 * bayes-bootstrap, `/learnspam|/learnham` on the controller. Rspamd's 208 ("already learned")
 * is success. Rspamd away or
 * failing is thrown, so BullMQ retries with backoff and the message is not lost. The message
 * itself is read from its Redis key (body.ts), which is deleted once the job is done or given up.
 */
import { PermanentJobError } from '../../core/errors.js';
import { isCancelReason } from '../../worker/cancel.js';
import type { JobContext } from '../types.js';
import { MessageBodies } from './body.js';
import { learnOnce, learnedStore, type LearnOnceOutcome } from './learn-once.js';
import { bayesLearnContract, messageDigest, type BayesLearnPayload } from './schema.js';
import { mayTrain } from './trainers.js';

export interface BayesLearnResult extends Record<string, unknown> {
  user: string;
  class: 'spam' | 'ham';
  /** First 16 hex digits of the message's SHA-256, to find it in logs. */
  digest: string;
  bytes: number;
  outcome: LearnOnceOutcome | 'not-a-trainer' | 'too-big';
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
    throw new PermanentJobError(
      'bodyId: the message is no longer in Redis (its key expired or was removed): not learned',
      'EBODYGONE',
    );
  }
  if (message.length !== payload.bytes || messageDigest(message) !== payload.sha256) {
    throw new PermanentJobError(
      "sha256: the stored message does not match the job's bytes and sha256: not learned",
      'EBODYMISMATCH',
    );
  }
  return message;
}

async function learnStored(
  payload: BayesLearnPayload,
  ctx: JobContext,
  bodies: MessageBodies,
): Promise<BayesLearnResult> {
  const { bayesLearn: cfg } = ctx.config;
  const digest = payload.sha256;
  const movedAt = payload.movedAt ?? Date.now();
  const store = learnedStore(ctx);
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
  const learned = await learnOnce({ class: payload.class, message, digest, movedAt }, ctx);
  if (learned.outcome !== 'learned') return done(learned.outcome, learned.reason);
  ctx.log.info({ ...base, relearned: learned.relearned }, `learned as ${payload.class}`);
  return done('learned');
}
