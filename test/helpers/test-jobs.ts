/**
 * A trivial job registered only in tests, to exercise the runtime (workers, scheduler,
 * dedup, shutdown) without any mail server. Each step is checkpointed in Redis, so a test
 * can see whether a step ran twice or went missing. A gated job takes each step only when the
 * test lets it ({@link openGate}): it is still running exactly as long as the test wants,
 * whatever the machine's speed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { queuePrefix, stateKey, type RedisClient } from '../../src/core/redis.js';
import { z } from 'zod';
import { PermanentJobError } from '../../src/core/errors.js';
import { defineJob } from '../../src/jobs/types.js';

export const echoSchema = z.strictObject({
  target: z.string().min(1),
  steps: z.number().int().min(0).default(0),
  gated: z.boolean().default(false),
  fail: z.enum(['no', 'permanent']).default('no'),
});

export const echoJob = defineJob({
  name: 'echo',
  summary: 'test job: records steps in Redis',
  schema: echoSchema,
  target: (p) => p.target,
  retry: { attempts: 3, backoffSeconds: 1 },
  concurrency: 2,
  defaultSchedule: { schedule: { cron: '0 3 * * *' }, payload: { target: 'nightly' } },
  schedules: (config) =>
    config.connectors.map((c) => ({
      id: `echo:${c.id}`,
      payload: { target: c.id },
      everyMs: c.intervalMinutes * 60_000,
      runOnChange: true,
    })),
  async process(p, ctx) {
    if (p.fail === 'permanent') throw new PermanentJobError(`echo ${p.target}: told to fail`, 'ETEST');
    const done = ctx.key('echo', p.target);
    // BLPOP blocks its connection: the gate has its own, closed when the job is aborted.
    const gate = p.gated ? ctx.redis.duplicate() : undefined;
    const close = () => gate?.disconnect();
    ctx.signal.addEventListener('abort', close, { once: true });
    try {
      // Resume after the last checkpointed step, as real jobs do.
      for (let i = await ctx.redis.llen(done); i < p.steps; i++) {
        await gate?.blpop(ctx.key('echo-gate', p.target), 0).catch(() => undefined);
        if (ctx.signal.aborted) throw new Error(`aborted: ${String(ctx.signal.reason)}`);
        await ctx.redis.rpush(done, String(i));
        await ctx.progress({ done: i + 1, total: p.steps });
      }
    } finally {
      ctx.signal.removeEventListener('abort', close);
      close();
    }
    return { target: p.target, steps: p.steps, processedBy: process.pid };
  },
});

export const testJobs = [echoJob];

/** Lets the gated echo job of `target` (queue prefix `prefix`) take `steps` more steps. */
export async function openGate(
  redis: RedisClient,
  prefix: string,
  target: string,
  steps: number,
): Promise<void> {
  await redis.rpush(stateKey(prefix, 'echo-gate', target), ...Array.from({ length: steps }, () => 'go'));
}

export const crunchSchema = z.strictObject({
  target: z.string().min(1),
  /** Ends after this many seconds of crunching, or once `stop` is set (see {@link stopCrunch}). */
  seconds: z.number().int().min(1),
  /** How long each synchronous CPU chunk holds the event loop. */
  chunkMs: z.number().int().min(1).default(250),
});

/** Keys the crunch job writes: runs started, chunks done, chunks that found a lock missing. */
export const crunchKeys = (prefix: string, target: string) => ({
  starts: stateKey(prefix, 'crunch', target, 'starts'),
  chunks: stateKey(prefix, 'crunch', target, 'chunks'),
  lockMisses: stateKey(prefix, 'crunch', target, 'lock-misses'),
  stop: stateKey(prefix, 'crunch', target, 'stop'),
});

/**
 * A long CPU-heavy job (registered only by test workers that ask for it): synchronous chunks of
 * hashing, as a big message's parsing would be, with the event loop free between them. After
 * each chunk it checks that both of its locks are still there: BullMQ's job lock and the target
 * lock of executeJob; a chunk that finds one missing is counted.
 */
export const crunchJob = defineJob({
  name: 'crunch',
  summary: 'test job: CPU-heavy chunks for a while',
  schema: crunchSchema,
  target: (p) => p.target,
  retry: { attempts: 1, backoffSeconds: 1 },
  concurrency: 1,
  async process(p, ctx) {
    const keys = crunchKeys(ctx.config.redis.prefix, p.target);
    const bullLock = `${queuePrefix(ctx.config.redis.prefix)}:crunch:${ctx.jobId}:lock`;
    const targetLock = ctx.key('lock', 'crunch', p.target);
    await ctx.redis.incr(keys.starts);
    const data = randomBytes(64 * 1024);
    const until = Date.now() + p.seconds * 1000;
    let chunks = 0;
    while (Date.now() < until && !(await ctx.redis.exists(keys.stop))) {
      const hash = createHash('sha256');
      const chunkEnd = performance.now() + p.chunkMs;
      while (performance.now() < chunkEnd) hash.update(data);
      hash.digest();
      chunks++;
      const [bull, target] = await Promise.all([ctx.redis.exists(bullLock), ctx.redis.get(targetLock)]);
      if (!bull || !target?.includes(`"${ctx.jobId}"`)) await ctx.redis.incr(keys.lockMisses);
      await ctx.redis.incr(keys.chunks);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return { target: p.target, chunks, processedBy: process.pid };
  },
});
