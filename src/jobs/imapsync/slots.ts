/**
 * What a run needs before it connects anywhere: its remote host not paused, a slot of
 * `imapsync.maxRunning` (every sync run of every worker sharing the Redis) and one of its remote
 * host's (`imapsync.maxRunningPerHost`, default `remoteSessionsPerHost`: the same leases as
 * getmail's sessions at that host, core/host-sessions.ts). Without them the run does not start:
 * it is delayed without spending an attempt (DeferredRunError) and its progress says what it
 * waits for. And what a throttling answer does: it pauses the host, for every task there.
 */
import { DeferredRunError, ThrottledError } from '../../core/errors.js';
import { RemoteHostSessions, type ReleaseSession } from '../../core/host-sessions.js';
import { hostPausedUntil, pauseHost } from '../account-pause.js';
import type { JobContext } from '../types.js';

/** How long a run without a slot waits before it looks again (plus up to as much at random). */
const SLOT_RETRY_MS = 2000;

const iso = (ms: number) => new Date(ms).toISOString();

/** A run's slots at `host`, released together; throws DeferredRunError when it must wait. */
export async function takeRunSlots(ctx: JobContext, host: string): Promise<ReleaseSession> {
  const paused = await hostPausedUntil(ctx, 'imapsync', host);
  if (paused) {
    await ctx.progress({ waiting: 'host paused', host, until: paused.until }).catch(() => undefined);
    throw new DeferredRunError(
      `imapsync: ${host} paused until ${iso(paused.until)}: ${paused.reason}`,
      paused.until - Date.now(),
    );
  }
  const s = ctx.config.imapsync;
  const perHostMax = s.maxRunningPerHost ?? ctx.config.remoteSessionsPerHost;
  const key = (...parts: string[]) => ctx.key(...parts);
  const all = new RemoteHostSessions(ctx.redis, key, s.maxRunning, undefined, 'imapsync-running');
  const perHost = new RemoteHostSessions(ctx.redis, key, perHostMax);
  const wait = async (cap: string): Promise<never> => {
    await ctx.progress({ waiting: 'slot', host, cap }).catch(() => undefined);
    const ms = SLOT_RETRY_MS + Math.floor(Math.random() * SLOT_RETRY_MS);
    throw new DeferredRunError(`imapsync: waiting for a slot (${cap})`, ms);
  };
  const releaseAll = (await all.tryAcquire('all')) ?? (await wait(`maxRunning ${s.maxRunning}`));
  const releaseHost = await perHost.tryAcquire(host);
  if (!releaseHost) {
    await releaseAll();
    return wait(`${perHostMax} per host at ${host}`);
  }
  return async () => {
    await Promise.all([releaseHost(), releaseAll()]);
  };
}

/**
 * A run that met a throttling answer (not a daily limit: that pauses the account): its host is
 * paused for the time the server asked (`imapsync.throttlePauseSeconds` when it named none),
 * logged and written to the trail once per pause, and the run comes back when the pause ends,
 * continuing from its state. Anything else comes back unchanged.
 */
export async function pauseHostOnThrottle(ctx: JobContext, host: string, err: unknown): Promise<unknown> {
  if (!(err instanceof ThrottledError) || err.dailyLimit || err instanceof DeferredRunError) return err;
  const ms = err.guessedWait ? ctx.config.imapsync.throttlePauseSeconds * 1000 : err.retryAfterMs;
  if (await pauseHost(ctx, 'imapsync', host, ms, err.message)) {
    const until = iso(Date.now() + ms);
    ctx.log.warn({ host, until, reason: err.message }, 'remote host throttled: its sync runs are paused');
    await ctx.trail(`${host} throttled: paused until ${until}; the run resumes then`);
  }
  const paused = await hostPausedUntil(ctx, 'imapsync', host);
  const until = paused?.until ?? Date.now() + ms;
  await ctx.progress({ waiting: 'host paused', host, until }).catch(() => undefined);
  const out = new DeferredRunError(
    `imapsync: ${host} paused until ${iso(until)}: ${err.message}`,
    until - Date.now(),
  );
  out.cause = err;
  return out;
}
