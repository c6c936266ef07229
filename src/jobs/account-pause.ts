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

/**
 * A remote host that answered a throttling refusal (Microsoft's suggested backoff, `NO
 * [THROTTLED]`) is paused for that time, for every task at that host: one answer, one pause,
 * instead of each run hitting the same wall. `job` names whose runs it holds back.
 */
const hostKey = (ctx: PauseContext, job: string, host: string) =>
  ctx.key(job, 'host-paused', host.toLowerCase());

/** Until when `host` is paused for `job`, and what it said; undefined when it is not. */
export async function hostPausedUntil(
  ctx: PauseContext,
  job: string,
  host: string,
): Promise<{ until: number; reason: string } | undefined> {
  const k = hostKey(ctx, job, host);
  const [ms, reason] = await Promise.all([ctx.redis.pttl(k), ctx.redis.get(k)]);
  return ms > 0 && reason !== null ? { until: Date.now() + ms, reason } : undefined;
}

/** Pauses `host` for `ms` unless it already is; true when this call paused it (log it then). */
export async function pauseHost(
  ctx: PauseContext,
  job: string,
  host: string,
  ms: number,
  reason: string,
): Promise<boolean> {
  return (await ctx.redis.set(hostKey(ctx, job, host), reason.slice(0, 500), 'PX', ms, 'NX')) === 'OK';
}
