/**
 * An account whose provider said its daily budget is spent (Gmail's IMAP download limit) is
 * paused until the next day: its runs meanwhile end at once, reported as paused, without
 * connecting (each attempt would only count against the provider's limits again).
 */
import { ThrottledError } from '../core/errors.js';
import type { JobContext } from './types.js';

type PauseContext = Pick<JobContext, 'redis' | 'key'>;

const pauseKey = (ctx: PauseContext, job: string, target: string) => ctx.key(job, target, 'paused');

/** Until when (ms since the epoch) `target` of `job` is paused, or undefined. */
export async function pausedUntil(
  ctx: PauseContext,
  job: string,
  target: string,
): Promise<number | undefined> {
  const ms = await ctx.redis.pttl(pauseKey(ctx, job, target));
  return ms > 0 ? Date.now() + ms : undefined;
}

/** Pauses `target` when `err` says its daily budget is spent; anything else is left alone. */
export async function pauseOnDailyLimit(
  ctx: PauseContext,
  job: string,
  target: string,
  err: unknown,
): Promise<void> {
  if (err instanceof ThrottledError && err.dailyLimit) {
    await ctx.redis.set(pauseKey(ctx, job, target), err.message.slice(0, 500), 'PX', err.retryAfterMs);
  }
}

/** The `skipped` text of a run that found its account paused. */
export function pausedText(until: number): string {
  return `paused until ${new Date(until).toISOString()}: the provider's daily limit was reached`;
}
