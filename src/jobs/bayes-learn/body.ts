/**
 * Where a queued message waits for the worker: not in the job's data, which Bull Board and the
 * API show to viewers (failed learns stay 30 days), but in its own Redis key,
 * `{prefix}:state:bayes-learn:body:<bodyId>`, which only workers read. The job data names it
 * (`bodyId`) with the message's size and SHA-256. Redis, not a file, so any worker host can
 * learn any job. The worker deletes the key once the message is learned or given up; the TTL
 * only bounds a body whose job was removed by hand (or deduplicated on the way in).
 */
import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import { enqueueJob, type EnqueueOutcome } from '../../client/enqueue.js';
import { stateKey, type RedisClient } from '../../core/redis.js';
import { bayesLearnContract, messageDigest, type BayesLearnPayload } from './schema.js';

/** Longer than a failed job is kept (30 days), so a job never outlives its body. */
export const BODY_TTL_SECONDS = 31 * 86_400;

export class MessageBodies {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: (...parts: string[]) => string,
  ) {}

  private keyOf(bodyId: string): string {
    return this.key('bayes-learn', 'body', bodyId);
  }

  /** Stores `message` under a new random id and returns the id. */
  async put(message: Buffer): Promise<string> {
    const bodyId = randomBytes(16).toString('hex');
    await this.redis.set(this.keyOf(bodyId), message, 'EX', BODY_TTL_SECONDS);
    return bodyId;
  }

  /** The message, or undefined when its key expired or was removed. */
  async get(bodyId: string): Promise<Buffer | undefined> {
    return (await this.redis.getBuffer(this.keyOf(bodyId))) ?? undefined;
  }

  async remove(bodyId: string): Promise<void> {
    await this.redis.del(this.keyOf(bodyId));
  }
}

/** One message to learn, as a producer has it. */
export interface LearnRequest {
  class: 'spam' | 'ham';
  user: string;
  movedAt?: number;
  message: Buffer;
}

/**
 * Queues a bayes-learn job for `req`: the body goes into its key first (so a worker never sees
 * a job without one), then the job with the reference. When no new job was queued (the same
 * move is already queued or running, or the payload is refused), the body is removed again.
 */
export async function queueLearn(
  queue: Queue,
  req: LearnRequest,
  state: { redis: RedisClient; prefix: string },
): Promise<EnqueueOutcome> {
  const bodies = new MessageBodies(state.redis, (...parts) => stateKey(state.prefix, ...parts));
  const bodyId = await bodies.put(req.message);
  const payload: BayesLearnPayload = {
    class: req.class,
    user: req.user,
    ...(req.movedAt !== undefined ? { movedAt: req.movedAt } : {}),
    bytes: req.message.length,
    sha256: messageDigest(req.message),
    bodyId,
  };
  let outcome: EnqueueOutcome | undefined;
  try {
    outcome = await enqueueJob(queue, bayesLearnContract, payload, state);
    return outcome;
  } finally {
    if (outcome?.status !== 'queued') await bodies.remove(bodyId).catch(() => undefined);
  }
}
