/**
 * `mailjobs/client`: enqueue mailjobs jobs from another Node service, typed by the registry.
 *
 * ```ts
 * import { createClient } from 'mailjobs/client';
 * const jobs = createClient({ redis: 'redis://127.0.0.1:6379' });
 * await jobs.enqueue('getmail', { account: 'john@example.com' }); // { status: 'queued', jobId, target }
 * await jobs.close();
 * ```
 * Payloads are validated here and again by the worker; a second trigger for the same target
 * answers `already-queued` or `running` instead of queueing twice. A message to learn goes
 * through `learn()`, which stores it where only workers read it (its job names it).
 */
import type { Queue } from 'bullmq';
import type { z } from 'zod';
import { type SealPurpose, SecretBox } from '../core/crypto.js';
import { PermanentJobError } from '../core/errors.js';
import { closeQueues, openQueue } from '../core/queues.js';
import { connectRedis, DEFAULT_REDIS_URL, type RedisTarget, type RedisClient } from '../core/redis.js';
import { queueLearn, type LearnRequest } from '../jobs/bayes-learn/body.js';
import { contracts, type Contracts, type JobName } from '../jobs/contracts.js';
import type { JobContract } from '../jobs/types.js';
import { enqueueJob, type EnqueueOptions, type EnqueueOutcome } from './enqueue.js';

export type { EnqueueOptions, EnqueueOutcome, JobName, LearnRequest, RedisTarget, SealPurpose };
/** For `redis.password`: a value that never prints. */
export { Secret } from '../config/secret.js';
/** The payload a job accepts (defaults optional). */
export type PayloadOf<N extends JobName> = z.input<Contracts[N]['schema']>;

export interface ClientOptions {
  /**
   * A URL, or `{ url, username, password: new Secret(...), tls: { caFile } }` for a Redis that
   * asks for a login or TLS. Default: `REDIS_URL`, else redis://127.0.0.1:6379.
   */
  redis?: RedisTarget;
  /** The mailjobs `redis.prefix` (default `mailjobs`). */
  prefix?: string;
}

export interface MailjobsClient {
  enqueue<N extends JobName>(name: N, payload: PayloadOf<N>, opts?: EnqueueOptions): Promise<EnqueueOutcome>;
  /** Queues a bayes-learn job for one message (`{ class, user, message: Buffer, movedAt? }`). */
  learn(req: LearnRequest): Promise<EnqueueOutcome>;
  close(): Promise<void>;
}

export function createClient(opts: ClientOptions = {}): MailjobsClient {
  const target = opts.redis ?? process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
  const prefix = opts.prefix ?? process.env.MAILJOBS_PREFIX ?? 'mailjobs';
  const queues = new Map<string, Queue>();
  let redis: RedisClient | undefined;
  const open = (name: string) => {
    let queue = queues.get(name);
    if (!queue) {
      queue = openQueue(name, target, prefix);
      // A library logs nothing: while Redis is away, each enqueue rejects and says why.
      queue.on('error', () => undefined);
      queues.set(name, queue);
    }
    if (!redis) (redis = connectRedis(target)).on('error', () => undefined);
    return { queue, redis };
  };
  return {
    async enqueue(name, payload, enqueueOpts) {
      const def = (contracts as Record<string, JobContract>)[name];
      if (!def) throw new PermanentJobError(`unknown job "${String(name)}"`, 'EUNKNOWNJOB');
      const { queue, redis: state } = open(def.name);
      return enqueueJob(queue, def, payload, { redis: state, prefix }, enqueueOpts);
    },
    async learn(req) {
      const { queue, redis: state } = open(contracts['bayes-learn'].name);
      return queueLearn(queue, req, { redis: state, prefix });
    },
    async close() {
      await closeQueues(queues);
      await redis?.quit();
    },
  };
}

let shared: MailjobsClient | undefined;

/** Enqueues through a shared client configured from the environment (`REDIS_URL`, `MAILJOBS_PREFIX`). */
export function enqueue<N extends JobName>(
  name: N,
  payload: PayloadOf<N>,
  opts?: EnqueueOptions,
): Promise<EnqueueOutcome> {
  shared ??= createClient();
  return shared.enqueue(name, payload, opts);
}

/**
 * Seals a secret (the password of an ad-hoc imapsync task) with the mailjobs key file, for the
 * one login it is for (`{ host, port, username, field: 'password' | 'admin.password' }`, the
 * port the task connects to), so the job data holds only ciphertext that no other task can
 * use; the workers open it with the same file (`secrets.keyFile`).
 */
export async function sealSecret(plain: string, purpose: SealPurpose, keyFile: string): Promise<string> {
  return new SecretBox(keyFile).seal(plain, purpose);
}

/** Closes the shared client's connections. */
export async function closeClient(): Promise<void> {
  await shared?.close();
  shared = undefined;
}
