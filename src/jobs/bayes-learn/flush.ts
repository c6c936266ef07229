/**
 * Queues what the learn spool holds (written by contrib/dovecot/sieve-pipe/learn, by
 * `mailjobs-learn` or by `mailjobs enqueue learn`): each file becomes a bayes-learn job and is
 * removed only once Redis has the job. Run by the worker's spool watcher, by those two programs
 * right after they spool, and by `mailjobs-learn --flush`; a lock file keeps it to one flusher
 * per spool at a time. The lock only saves work: two
 * flushers racing over one file queue it once (the job's deduplication) and one of them finds
 * the file gone.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { enqueueJob } from '../../client/enqueue.js';
import { InvalidPayloadError } from '../../core/errors.js';
import { queuePrefix } from '../../core/redis.js';
import { bayesLearnContract, type BayesLearnPayload } from './schema.js';
import {
  SpoolFormatError,
  type SpooledLearn,
  listSpool,
  quarantine,
  readSpooled,
  removeSpooled,
  removeStaleTemp,
  takeFlushLock,
} from './spool.js';

/** What one flush did. */
export interface FlushResult {
  /** Files that became jobs (or found their job already queued). */
  enqueued: number;
  /** Files left in the spool (Redis went away meanwhile, or another flusher holds the lock). */
  left: number;
  /** Unreadable or invalid files moved to `<spool>/bad/`. */
  quarantined: number;
  /** Over the size limit: removed, not learned (each one logged through `warn`). */
  tooBig: number;
  /** Why the flush stopped early, if it did. */
  error?: string;
  /** True when another live flusher held the lock: it will take the files. */
  busy?: boolean;
}

/** A queue on a shared connection; its errors surface through the commands that fail. */
function openLearnQueue(target: Pick<FlushTarget, 'redis' | 'prefix'>): Queue {
  const queue = new Queue(bayesLearnContract.name, { connection: target.redis, prefix: queuePrefix(target.prefix) }); // prettier-ignore
  // Without a listener BullMQ prints every connection error of a Redis that is away.
  queue.on('error', () => undefined);
  return queue;
}

/** Where the jobs go. */
export interface FlushTarget {
  /** A connection for the queue and the target locks (shared, not closed here). */
  redis: Redis;
  prefix: string;
  /** `bayesLearn.maxMessageKilobytes` in bytes: the sh spooler cannot read the config to check. */
  maxMessageBytes: number;
  /** One line per problem (files quarantined or too big, Redis errors). */
  warn(line: string): void;
}

function toPayload(entry: SpooledLearn): BayesLearnPayload {
  const { class: cls, user, movedAt, message } = entry;
  return { class: cls, user, movedAt, message: message.toString('base64') };
}

/** Queues one message that never made it into the spool (the spool cannot be written). */
export async function queueSpooled(
  entry: SpooledLearn,
  target: Pick<FlushTarget, 'redis' | 'prefix'>,
): Promise<void> {
  const queue = openLearnQueue(target);
  try {
    await enqueueJob(queue, bayesLearnContract, toPayload(entry), target);
  } finally {
    await queue.close();
  }
}

/** Queues every spooled file of `dir`; never throws for Redis problems (they are in `error`). */
export async function flushSpool(dir: string, target: FlushTarget): Promise<FlushResult> {
  const result: FlushResult = { enqueued: 0, left: 0, quarantined: 0, tooBig: 0 };
  if ((await listSpool(dir)).length === 0) return result; // nothing, or no spool on this host
  const queue = openLearnQueue(target);
  try {
    // Lock, drain, unlock, look again: a file spooled while we held the lock is never stranded.
    for (let round = 0; round < 100; round++) {
      const release = await takeFlushLock(dir);
      if (!release) return { ...result, busy: true, left: (await listSpool(dir)).length };
      try {
        await removeStaleTemp(dir);
        await drain(dir, queue, target, result);
      } finally {
        await release();
      }
      const left = await listSpool(dir);
      if (result.error || left.length === 0) return { ...result, left: left.length };
    }
    return { ...result, left: (await listSpool(dir)).length };
  } finally {
    await queue.close();
  }
}

async function drain(dir: string, queue: Queue, target: FlushTarget, result: FlushResult): Promise<void> {
  for (const file of await listSpool(dir)) {
    let spooled;
    try {
      spooled = await readSpooled(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // another flusher queued it
      if (!(err instanceof SpoolFormatError)) throw err;
      await quarantine(file);
      result.quarantined++;
      target.warn(`${err.message}; moved to bad/`);
      continue;
    }
    if (spooled.message.length > target.maxMessageBytes) {
      await removeSpooled(file).catch(() => undefined);
      result.tooBig++;
      target.warn(`not learned: ${spooled.user}'s ${spooled.class} message of ${spooled.message.length} bytes is over bayesLearn.maxMessageKilobytes (${target.maxMessageBytes / 1024})`); // prettier-ignore
      continue;
    }
    try {
      await enqueueJob(queue, bayesLearnContract, toPayload(spooled), {
        redis: target.redis,
        prefix: target.prefix,
      });
    } catch (err) {
      if (err instanceof InvalidPayloadError) {
        await quarantine(file);
        result.quarantined++;
        target.warn(`${file}: ${err.message}; moved to bad/`);
        continue;
      }
      result.error = `cannot queue (Redis): ${(err as Error).message}`;
      target.warn(`${result.error}; ${file} and the rest stay spooled`);
      return;
    }
    await removeSpooled(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    result.enqueued++;
  }
}
