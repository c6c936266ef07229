/**
 * Queues what the learn spool holds (written by contrib/dovecot/sieve-pipe/learn, by
 * `mailjobs-learn` or by `mailjobs enqueue learn`): each file becomes a bayes-learn job and is
 * removed only once Redis has the job. Run by the worker's spool watcher, by those two programs
 * right after they spool, and by `mailjobs-learn --flush`; a lock file keeps it to one flusher
 * per spool at a time. The lock only saves work: two
 * flushers racing over one file queue it once (the job's deduplication) and one of them finds
 * the file gone.
 */
import path from 'node:path';
import { Queue } from 'bullmq';
import { InvalidPayloadError } from '../../core/errors.js';
import { queuePrefix, type RedisClient } from '../../core/redis.js';
import { queueLearn } from './body.js';
import { bayesLearnContract } from './schema.js';
import {
  SpoolFormatError,
  SpoolTooBigError,
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
  /** Unreadable or invalid files (links, FIFOs...) moved to `<spool>/bad/`, or removed. */
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
  const queue = new Queue(bayesLearnContract.name, {
    connection: target.redis,
    prefix: queuePrefix(target.prefix),
  });
  // Without a listener BullMQ prints every connection error of a Redis that is away.
  queue.on('error', () => undefined);
  return queue;
}

/** Where the jobs go. */
export interface FlushTarget {
  /** A connection for the queue and the target locks (shared, not closed here). */
  redis: RedisClient;
  prefix: string;
  /** `bayesLearn.maxMessageKilobytes` in bytes (the sh spooler's own `MAX_BYTES` may differ). */
  maxMessageBytes: number;
  /** One line per problem (files quarantined or too big, Redis errors). */
  warn(line: string): void;
}

/** Queues one message that never made it into the spool (the spool cannot be written). */
export async function queueSpooled(
  entry: SpooledLearn,
  target: Pick<FlushTarget, 'redis' | 'prefix'>,
): Promise<void> {
  const queue = openLearnQueue(target);
  try {
    await queueLearn(queue, entry, target);
  } finally {
    await queue.close();
  }
}

/** Queues every spooled file of `dir`; never throws for Redis problems (they are in `error`). */
export async function flushSpool(dir: string, target: FlushTarget): Promise<FlushResult> {
  const result: FlushResult = { enqueued: 0, left: 0, quarantined: 0, tooBig: 0 };
  if ((await listSpool(dir)).length === 0) return result; // nothing, or no spool on this host
  const queue = openLearnQueue(target);
  // Entries this flush could neither queue nor move aside: not looked at again until the next.
  const stuck = new Set<string>();
  try {
    // Lock, drain, unlock, look again: a file spooled while we held the lock is never stranded.
    for (let round = 0; round < 100; round++) {
      const release = await takeFlushLock(dir);
      if (!release) return { ...result, busy: true, left: (await listSpool(dir)).length };
      try {
        await removeStaleTemp(dir);
        await drain(dir, queue, target, result, stuck);
      } finally {
        await release();
      }
      const left = await listSpool(dir);
      if (result.error || left.every((f) => stuck.has(f))) return { ...result, left: left.length };
    }
    return { ...result, left: (await listSpool(dir)).length };
  } finally {
    await queue.close();
  }
}

/** Moves `file` aside (or removes it) with a warning; `stuck` when even that fails. */
async function setAside(
  file: string,
  why: string,
  target: FlushTarget,
  result: FlushResult,
  stuck: Set<string>,
): Promise<void> {
  try {
    const moved = await quarantine(file);
    result.quarantined++;
    target.warn(`${why}; ${moved ? 'moved to bad/' : 'removed (bad/ is not a real folder)'}`);
  } catch (err) {
    stuck.add(file);
    target.warn(`${why}; cannot move it aside: ${(err as Error).message}`);
  }
}

async function drain(
  dir: string,
  queue: Queue,
  target: FlushTarget,
  result: FlushResult,
  stuck: Set<string>,
): Promise<void> {
  for (const file of await listSpool(dir)) {
    if (stuck.has(file)) continue;
    let spooled;
    try {
      spooled = await readSpooled(file, target.maxMessageBytes);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // another flusher queued it
      if (err instanceof SpoolTooBigError) {
        await removeSpooled(file).catch(() => undefined);
        result.tooBig++;
        target.warn(`not learned: ${err.message}`);
      } else if (err instanceof SpoolFormatError) {
        await setAside(file, err.message, target, result, stuck);
      } else throw err;
      continue;
    }
    try {
      await queueLearn(queue, spooled, { redis: target.redis, prefix: target.prefix });
    } catch (err) {
      if (err instanceof InvalidPayloadError) {
        await setAside(file, `${path.basename(file)}: ${err.message}`, target, result, stuck);
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
