/**
 * Whose Junk to clean and how long each user keeps spam: the global `retentionDays`, a
 * per-user override, or `infinite` (never expunged, and the mailbox is not even opened).
 */
import type { Retention, SpamExpungeConfig } from '../../config/junk.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** The retention that applies to `user`: their override, else the global one. */
export function retentionFor(user: string, config: SpamExpungeConfig): Retention {
  return Object.hasOwn(config.perUser, user) ? config.perUser[user]! : config.retentionDays;
}

/** The instant before which a message saved in Junk is expunged; undefined for `infinite`. */
export function cutoffFor(retention: Retention, now: Date): Date | undefined {
  return retention === 'infinite' ? undefined : new Date(now.getTime() - retention * DAY_MS);
}

/**
 * Runs `work` over `items` with at most `limit` running at once, in order of start. Each call's
 * failure is the caller's to catch (work should not throw); stops starting new items once
 * `signal` is aborted and then rejects with its reason after the running ones settle.
 */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length && !signal?.aborted) {
      const index = next++;
      await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  signal?.throwIfAborted();
}
