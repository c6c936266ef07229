/**
 * A trivial job registered only in tests, to exercise the runtime (workers, scheduler,
 * dedup, shutdown) without any mail server. Each step is checkpointed in Redis, so a test
 * can see whether a step ran twice or went missing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { PermanentJobError } from '../../src/core/errors.js';
import { defineJob } from '../../src/jobs/types.js';

export const echoSchema = z.strictObject({
  target: z.string().min(1),
  steps: z.number().int().min(0).default(0),
  stepMs: z.number().int().min(0).default(0),
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
    // Resume after the last checkpointed step, as real jobs do.
    for (let i = await ctx.redis.llen(done); i < p.steps; i++) {
      if (ctx.signal.aborted) throw new Error(`aborted: ${String(ctx.signal.reason)}`);
      await sleep(p.stepMs);
      await ctx.redis.rpush(done, String(i));
      await ctx.progress({ done: i + 1, total: p.steps });
    }
    return { target: p.target, steps: p.steps, processedBy: process.pid };
  },
});

export const testJobs = [echoJob];
