/**
 * One run of the quarantine job: in the quarantine mailbox, expunge what is past retention,
 * index what is new (and drop from the index what is gone), then send the notifications due.
 * A notification is marked sent right after Postfix took it, so a crash or a failed send
 * leaves it due for the next run; only a crash in the instant between Postfix's answer and one
 * Redis write can send one twice.
 */
import { expungeOlderThan } from '../../mail/imap.js';
import type { JobContext } from '../types.js';
import { parseQuarantineHeaders } from './headers.js';
import { type FetchedHeaders, fetchHeaders, inQuarantine, quarantineUids } from './mailbox.js';
import { describeRoute, alertRoute } from '../alerts/send.js';
import { digestDue, digestMail, eachMail, sendNotification } from './notify.js';
import type { QuarantinePayload } from './schema.js';
import { type QuarantineItem, QuarantineStore, quarantineId } from './store.js';

const DAY_MS = 86_400_000;
/** Messages whose headers are read per FETCH, and indexed per Redis transaction. */
const INDEX_BATCH = 200;

export interface QuarantineResult {
  [k: string]: unknown;
  enabled: boolean;
  /** Messages in the quarantine mailbox after the run. */
  messages: number;
  indexed: number;
  expunged: number;
  /** Index entries dropped because their message is gone (released, deleted, expunged). */
  dropped: number;
  notified: number;
  mailError?: string;
}

/** An index entry from what IMAP gave for one message. */
export function toItem(uidValidity: string, m: FetchedHeaders): QuarantineItem {
  const v = parseQuarantineHeaders(m.headers);
  return {
    id: quarantineId(uidValidity, m.uid),
    uidValidity,
    uid: m.uid,
    savedAt: m.savedAt.toISOString(),
    ...(v.quarantinedAt ? { quarantinedAt: v.quarantinedAt } : {}),
    ...(v.from !== undefined ? { from: v.from } : {}),
    to: v.to,
    headerFrom: m.headerFrom,
    subject: m.subject,
    ...(m.messageId ? { messageId: m.messageId } : {}),
    ...(v.score !== undefined ? { score: v.score } : {}),
    ...(v.threshold !== undefined ? { threshold: v.threshold } : {}),
    ...(v.action ? { action: v.action } : {}),
    symbols: v.symbols,
    size: m.size,
    ...(v.queueId ? { queueId: v.queueId } : {}),
    ...(v.notReleasable ? { notReleasable: v.notReleasable } : {}),
  };
}

export async function runQuarantine(payload: QuarantinePayload, ctx: JobContext): Promise<QuarantineResult> {
  const cfg = ctx.config.quarantine;
  const result: QuarantineResult = {
    enabled: cfg.enabled,
    messages: 0,
    indexed: 0,
    expunged: 0,
    dropped: 0,
    notified: 0,
  };
  if (!cfg.enabled) return result;
  const store = new QuarantineStore(ctx.redis, ctx.key);
  const now = Date.now();
  await inQuarantine(ctx.config, ctx.signal, async (s) => {
    const cutoff = new Date(now - cfg.retentionDays * DAY_MS);
    const old = await expungeOlderThan(s.client, 'INBOX', {
      cutoff,
      dryRun: false,
      batchSize: 500,
      signal: ctx.signal,
    });
    result.expunged = old.expunged;
    if (old.expunged)
      ctx.log.info(
        { expunged: old.expunged, retentionDays: cfg.retentionDays },
        'quarantined messages past retention expunged',
      );
    const uids = await quarantineUids(s);
    result.messages = uids.length;
    const known = new Set(await store.ids());
    const present = new Set(uids.map((u) => quarantineId(s.uidValidity, u)));
    const gone = [...known].filter((id) => !present.has(id));
    await store.drop(gone);
    result.dropped = gone.length;
    const fresh = uids.filter((u) => !known.has(quarantineId(s.uidValidity, u)));
    for (let i = 0; i < fresh.length; i += INDEX_BATCH) {
      ctx.signal.throwIfAborted();
      const items = (await fetchHeaders(s, fresh.slice(i, i + INDEX_BATCH))).map((m) =>
        toItem(s.uidValidity, m),
      );
      await store.add(items, cfg.notify !== 'off');
      for (const item of items) {
        ctx.log.info(
          {
            id: item.id,
            queueId: item.queueId,
            score: item.score,
            recipients: item.to.length,
            releasable: !item.notReleasable,
          },
          'quarantined message indexed',
        );
      }
      result.indexed += items.length;
    }
  });
  await notify(payload, ctx, store, now, result);
  return result;
}

/** Sends what is due: one mail per message, or the digest when its time has come. */
async function notify(
  payload: QuarantinePayload,
  ctx: JobContext,
  store: QuarantineStore,
  now: number,
  result: QuarantineResult,
): Promise<void> {
  const cfg = ctx.config.quarantine;
  const failed = (err: unknown): void => {
    result.mailError = `${describeRoute(alertRoute(ctx.config))}: ${(err as Error).message}`;
    ctx.log.warn(
      { to: cfg.notifyTo, err: result.mailError },
      'quarantine notification not sent; it stays due for the next run',
    );
  };
  if (cfg.notify === 'each') {
    for (const item of await store.dueForNotification()) {
      try {
        await sendNotification(ctx.config, eachMail(ctx.config, item));
      } catch (err) {
        return failed(err);
      }
      await store.notified([item.id]);
      result.notified++;
    }
    if (result.notified)
      ctx.log.info({ to: cfg.notifyTo, notified: result.notified }, 'quarantine notifications sent');
  } else if (cfg.notify === 'digest') {
    const last = await ctx.redis.get(store.digestAtKey);
    if (last === null) await ctx.redis.set(store.digestAtKey, String(now));
    if (!payload.digestNow && !digestDue(cfg.digestCron, last === null ? undefined : Number(last), now))
      return;
    const due = await store.dueForNotification();
    if (due.length) {
      try {
        await sendNotification(ctx.config, digestMail(ctx.config, due));
      } catch (err) {
        return failed(err);
      }
      await store.notified(due.map((i) => i.id));
      result.notified = due.length;
      ctx.log.info({ to: cfg.notifyTo, notified: due.length }, 'quarantine digest sent');
    }
    await ctx.redis.set(store.digestAtKey, String(now));
  }
}
