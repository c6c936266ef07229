/**
 * Release and delete of one quarantined message, for the CLI and the dashboard (an admin's
 * action, done at once, not queued). Release delivers the message over LMTP to each original
 * recipient exactly once, even when it is retried after a crash: each recipient's delivery is
 * recorded in Redis before (`attempting`) and after (`delivered`); a recipient left
 * `attempting` is looked for in their mailbox by the trace header, which is the same on every
 * attempt, before anything is delivered again (as getmail does). Only when every recipient has
 * the message is it expunged from the quarantine and dropped from the index.
 */
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../../core/redis.js';
import type { Config } from '../../config/schema.js';
import { InvalidPayloadError, PermanentJobError, ProtocolError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { acquireTargetLock, describeHolder } from '../../core/target-lock.js';
import { localMessageExists } from '../../mail/imap.js';
import { LmtpClient } from '../../mail/lmtp.js';
import { learnOnce } from '../bayes-learn/learn-once.js';
import { messageDigest } from '../bayes-learn/schema.js';
import { RELEASED_FIELD, releasedMessage, withoutQuarantineFields } from './headers.js';
import { type QuarantineSession, expungeUids, fetchSource, inQuarantine, masterPassword } from './mailbox.js';
import { QUARANTINE_ID, type QuarantineItem, QuarantineStore } from './store.js';

/** What release and delete need: the config, Redis, a logger. */
export interface QuarantineActionContext {
  readonly config: Config;
  readonly redis: RedisClient;
  key(...parts: string[]): string;
  readonly log: Logger;
  readonly signal?: AbortSignal;
}

export interface ReleaseOutcome {
  id: string;
  /** Recipients delivered now. */
  delivered: string[];
  /** Recipients that had it already (an earlier, interrupted release). */
  alreadyDelivered: string[];
  /** With `learnHam`: what Rspamd did, or why it did not. */
  learnHam?: string;
}

/** How long a release's per-recipient record outlives the release. */
const RELEASE_RECORD_SECONDS = 30 * 86_400;

/** Who acted, as it goes into the trace header and the audit: one line of printable ASCII. */
function adminName(by: string): string {
  return by.replace(/[^\x21-\x3a\x3c-\x7e]+/g, '_').slice(0, 100) || 'unknown';
}

function checkId(id: string): void {
  if (!QUARANTINE_ID.test(id)) {
    throw new InvalidPayloadError(
      `quarantine id ${JSON.stringify(id.slice(0, 40))} is not of the form <uidvalidity>-<uid>`,
    );
  }
}

/** Runs `work` holding the message's lock: one release or delete of a message at a time. */
async function withMessageLock<T>(
  ctx: QuarantineActionContext,
  id: string,
  work: () => Promise<T>,
): Promise<T> {
  const owner = `quarantine-${randomBytes(6).toString('hex')}`;
  const lock = await acquireTargetLock(
    ctx.redis,
    ctx.key('lock', 'quarantine', 'message', id),
    owner,
    120_000,
  );
  if ('heldBy' in lock) {
    throw new ProtocolError(
      `quarantined message ${id} is being released or deleted (${describeHolder(lock.heldBy)})`,
      'EBUSY',
    );
  }
  try {
    return await work();
  } finally {
    await lock.release();
  }
}

/** The indexed message `id`, or a clear "not found". */
async function indexedItem(store: QuarantineStore, id: string): Promise<QuarantineItem> {
  const item = await store.get(id);
  if (!item) {
    throw new PermanentJobError(`no quarantined message ${id} (see mailjobs quarantine list)`, 'ENOTFOUND');
  }
  return item;
}

/** Its bytes in the quarantine mailbox; a message gone from there is dropped from the index. */
async function sourceOf(s: QuarantineSession, store: QuarantineStore, item: QuarantineItem): Promise<Buffer> {
  const source = s.uidValidity === item.uidValidity ? await fetchSource(s, item.uid) : undefined;
  if (!source) {
    await store.drop([item.id]);
    throw new PermanentJobError(
      `quarantined message ${item.id} is no longer in the quarantine mailbox`,
      'ENOTFOUND',
    );
  }
  return source;
}

/**
 * Releases message `id` to its original recipients, `by` the admin named. Throws
 * `PermanentJobError` `ENOTFOUND`, `ENOTRELEASABLE` (no original envelope: delete only) or
 * `EREFUSED` (a recipient refused it for good: the others have it, the message stays in
 * quarantine), `ProtocolError` for what a retry can fix (LMTP or IMAP away, `EBUSY`).
 */
export async function releaseMessage(
  id: string,
  opts: { by: string; learnHam?: boolean },
  ctx: QuarantineActionContext,
): Promise<ReleaseOutcome> {
  checkId(id);
  const by = adminName(opts.by);
  const store = new QuarantineStore(ctx.redis, ctx.key);
  return withMessageLock(ctx, id, async () => {
    const item = await indexedItem(store, id);
    if (item.notReleasable) {
      throw new PermanentJobError(
        `quarantined message ${id} cannot be released: ${item.notReleasable}; delete it instead`,
        'ENOTRELEASABLE',
      );
    }
    const recordKey = ctx.key('quarantine', 'release', id);
    // The first attempt's trace stays: a retry delivers the same bytes and can find them.
    await ctx.redis.hsetnx(
      recordKey,
      'trace',
      `by ${by} at ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}; quarantine id ${id}`,
    );
    await ctx.redis.hsetnx(recordKey, 'startedAt', String(Date.now()));
    await ctx.redis.expire(recordKey, RELEASE_RECORD_SECONDS);
    const record = await ctx.redis.hgetall(recordKey);
    const trace = record.trace!;
    const outcome: ReleaseOutcome = { id, delivered: [], alreadyDelivered: [] };
    await inQuarantine(ctx.config, ctx.signal, async (s) => {
      const source = await sourceOf(s, store, item);
      const message = releasedMessage(source, trace);
      const refused = await deliverAll(ctx, item, message, { recordKey, record, trace }, outcome);
      if (refused.length) {
        throw new PermanentJobError(
          `quarantined message ${id} not released to ${refused.join('; ')}; ${outcome.delivered.length + outcome.alreadyDelivered.length} recipient(s) have it, the message stays in quarantine`,
          'EREFUSED',
        );
      }
      if (opts.learnHam) outcome.learnHam = await learnAsHam(ctx, id, withoutQuarantineFields(source));
      await expungeUids(s, [item.uid]);
    });
    await store.drop([id]);
    await store.record({
      at: Date.now(),
      by,
      action: 'release',
      id,
      subject: item.subject,
      recipients: item.to,
    });
    ctx.log.info(
      {
        id,
        by,
        delivered: outcome.delivered.length,
        alreadyDelivered: outcome.alreadyDelivered.length,
        learnHam: outcome.learnHam,
      },
      'quarantined message released',
    );
    return outcome;
  });
}

/** Delivers `message` to each recipient not done yet; returns the permanent refusals. */
async function deliverAll(
  ctx: QuarantineActionContext,
  item: QuarantineItem,
  message: Buffer,
  rec: { recordKey: string; record: Record<string, string>; trace: string },
  outcome: ReleaseOutcome,
): Promise<string[]> {
  const { dovecot } = ctx.config;
  const refused: string[] = [];
  let lmtp: LmtpClient | undefined;
  try {
    for (const rcpt of item.to) {
      const state = rec.record[`rcpt:${rcpt}`];
      if (state === 'delivered') {
        outcome.alreadyDelivered.push(rcpt);
        continue;
      }
      if (state === 'attempting') {
        // Interrupted after DATA: the recipient's mailbox says whether it arrived.
        const found = await localMessageExists(
          {
            ...dovecot.imap,
            user: rcpt,
            masterUser: dovecot.masterUser,
            masterPassword: masterPassword(ctx.config),
            deliveredSince: new Date(Number(rec.record.startedAt)),
            ...(ctx.signal ? { signal: ctx.signal } : {}),
          },
          RELEASED_FIELD,
          rec.trace,
        );
        if (found) {
          await ctx.redis.hset(rec.recordKey, `rcpt:${rcpt}`, 'delivered');
          outcome.alreadyDelivered.push(rcpt);
          continue;
        }
      }
      await ctx.redis.hset(rec.recordKey, `rcpt:${rcpt}`, 'attempting');
      if (!lmtp) {
        lmtp = new LmtpClient(dovecot.lmtp);
        await lmtp.connect();
      }
      try {
        await lmtp.deliver({ from: item.from ?? '', to: rcpt, message });
      } catch (err) {
        const e = err as ProtocolError;
        if (!(e instanceof ProtocolError) || e.responseCode === undefined || e.responseCode < 500) throw err;
        await ctx.redis.hdel(rec.recordKey, `rcpt:${rcpt}`);
        refused.push(`${rcpt}: ${e.message}`);
        continue;
      }
      await ctx.redis.hset(rec.recordKey, `rcpt:${rcpt}`, 'delivered');
      outcome.delivered.push(rcpt);
    }
  } finally {
    await lmtp?.close();
  }
  return refused;
}

/** Teaches Rspamd the released message as ham (with bayes-learn's dedup); never throws. */
async function learnAsHam(ctx: QuarantineActionContext, id: string, message: Buffer): Promise<string> {
  try {
    const r = await learnOnce(
      { class: 'ham', message, digest: messageDigest(message), movedAt: Date.now() },
      {
        config: ctx.config,
        redis: ctx.redis,
        key: ctx.key.bind(ctx),
        jobId: `quarantine-release:${id}`,
        signal: ctx.signal ?? new AbortController().signal,
      },
    );
    return r.outcome;
  } catch (err) {
    ctx.log.warn({ id, err: (err as Error).message }, 'released message not learned as ham');
    return `failed: ${(err as Error).message}`;
  }
}

/** Deletes message `id` from the quarantine mailbox and the index, `by` the admin named. */
export async function deleteMessage(
  id: string,
  opts: { by: string },
  ctx: QuarantineActionContext,
): Promise<void> {
  checkId(id);
  const store = new QuarantineStore(ctx.redis, ctx.key);
  await withMessageLock(ctx, id, async () => {
    const item = await indexedItem(store, id);
    await inQuarantine(ctx.config, ctx.signal, async (s) => {
      if (s.uidValidity === item.uidValidity) await expungeUids(s, [item.uid]);
    });
    await store.drop([id]);
    const by = adminName(opts.by);
    await store.record({ at: Date.now(), by, action: 'delete', id, subject: item.subject });
    ctx.log.info({ id, by }, 'quarantined message deleted');
  });
}
