/**
 * getmail: fetch what is new on one connector's remote account and deliver it to the local
 * user over LMTP, exactly once. Per message: retrieve → scan → mark in flight → LMTP (with
 * the trace header) → record as seen → (later) delete remotely. A crash anywhere is repaired
 * on the next run: a message still "in flight" is looked up in the local mailbox by its trace
 * header before it is delivered again.
 */
import type { ConnectorConfig } from '../../config/schema.js';
import { PermanentJobError, ProtocolError } from '../../core/errors.js';
import { ConnectionSlots, LmtpPool } from '../../mail/lmtp-pool.js';
import type { MessageSpool } from '../../mail/spool.js';
import type { JobContext } from '../types.js';
import { applyFilters } from './filters.js';
import { rebuildSeenFromMailbox } from './rebuild.js';
import type { GetmailPayload } from './schema.js';
import {
  folderKeyPrefix,
  messageKey,
  type RemoteFolder,
  type RemoteMessage,
  type RemoteSession,
} from './source.js';
import { SeenUidStore } from './state.js';
import {
  envelopeSender,
  headerBlock,
  headerSection,
  headerValue,
  messageIdentity,
  receivedHeader,
  replaceHeader,
  TRACE_HEADER,
  traceValue,
} from './trace.js';

export interface GetmailResult extends Record<string, unknown> {
  account: string;
  fetched: number;
  delivered: number;
  spam: number;
  infected: number;
  discarded: number;
  tooBig: number;
  failed: number;
  /** Found already delivered after an interrupted run (trace header in the local mailbox). */
  recovered: number;
  /** Found already delivered by identity after a UIDVALIDITY change or UIDL renumbering. */
  duplicates: number;
  /** Left for the next run by the per-run limits. */
  deferred: number;
  deletedRemote: number;
  bytes: number;
  durationMs: number;
}

/** How getmail reaches the outside: replaced in tests that need a failing piece. */
export interface GetmailDeps {
  openRemote(connector: ConnectorConfig, ctx: JobContext): Promise<RemoteSession>;
  /** True when a message with this trace value is already in the user's local mailbox. */
  localHasTrace(connector: ConnectorConfig, trace: string, ctx: JobContext): Promise<boolean>;
}

/** Messages marked in flight with one Redis write (see {@link SeenUidStore.markInflight}). */
const INFLIGHT_BATCH = 16;

function emptyResult(account: string): GetmailResult {
  return { account, fetched: 0, delivered: 0, spam: 0, infected: 0, discarded: 0, tooBig: 0, failed: 0, recovered: 0, duplicates: 0, deferred: 0, deletedRemote: 0, bytes: 0, durationMs: 0 }; // prettier-ignore
}

let sharedSlots: ConnectionSlots | undefined;

/** The process-wide LMTP connection slots (one limit per process, from the config). */
function processSlots(limit: number): ConnectionSlots {
  if (sharedSlots?.limit !== limit) sharedSlots = new ConnectionSlots(limit);
  return sharedSlots;
}

function deletionDue(policy: ConnectorConfig['delete'], seenAt: number, now: number): boolean {
  if (policy === 'never') return false;
  if (policy === 'immediately') return true;
  return now - seenAt >= policy.afterDays * 86_400_000;
}

function findConnector(ctx: JobContext, account: string): ConnectorConfig {
  const c = ctx.config.connectors.find((x) => x.id === account);
  if (!c) throw new PermanentJobError(`getmail: no connector "${account}" in the config`, 'ENOCONNECTOR');
  return c;
}

export async function getmail(
  payload: GetmailPayload,
  ctx: JobContext,
  deps: GetmailDeps,
): Promise<GetmailResult> {
  const connector = findConnector(ctx, payload.account);
  const store = new SeenUidStore(
    ctx.redis,
    ctx.key,
    connector.id,
    ctx.config.getmail.stateRetentionDays * 86_400,
  );
  if (!connector.enabled) return { ...emptyResult(connector.id), skipped: 'disabled' };
  const started = Date.now();
  try {
    const result = await new FetchRun(connector, ctx, deps, store).run();
    result.durationMs = Date.now() - started;
    await store.recordRun({ result });
    return result;
  } catch (err) {
    await store.recordRun({ error: (err as Error).message });
    throw err;
  }
}

class FetchRun {
  private readonly result: GetmailResult;
  private readonly limits;
  private seen = new Map<string, number>();
  private inflight = new Set<string>();
  /** Keys marked in flight in Redis by this run and not settled yet, with the write marking them. */
  private readonly marked = new Map<string, Promise<void>>();
  /** The folder's keys in retrieval order, and those a batch has marked already (never twice: a settled key must not go back in flight). */
  private upcoming: { keys: string[]; index: Map<string, number>; batched: Set<string> } = {
    keys: [],
    index: new Map(),
    batched: new Set(),
  };

  constructor(
    private readonly connector: ConnectorConfig,
    private readonly ctx: JobContext,
    private readonly deps: GetmailDeps,
    private readonly store: SeenUidStore,
  ) {
    this.result = emptyResult(connector.id);
    const g = ctx.config.getmail;
    this.limits = {
      messages: g.maxMessagesPerRun,
      bytes: g.maxMegabytesPerRun * 1024 * 1024,
      messageBytes: g.maxMessageMegabytes * 1024 * 1024,
    };
  }

  async run(): Promise<GetmailResult> {
    const { ctx, connector } = this;
    const g = ctx.config.getmail;
    const lmtp = new LmtpPool(
      ctx.config.dovecot.lmtp,
      { connectTimeoutMs: g.connectTimeoutSeconds * 1000, commandTimeoutMs: g.commandTimeoutSeconds * 1000 },
      g.lmtpConnections,
      processSlots(g.maxLmtpConnectionsPerProcess),
    );
    try {
      await this.checkLocalUser(lmtp);
      if (!(await this.store.exists())) await this.store.seed(await rebuildSeenFromMailbox(connector, ctx));
      [this.seen, this.inflight] = await Promise.all([this.store.seen(), this.store.inflight()]);
      const remote = await this.deps.openRemote(connector, ctx);
      try {
        for await (const folder of remote.folders()) await this.fetchFolder(folder, remote, lmtp);
      } finally {
        await remote.close();
      }
    } finally {
      await lmtp.close();
    }
    return this.result;
  }

  /** A connector whose local user does not exist is inconsistent: fail, deliver nowhere. */
  private async checkLocalUser(lmtp: LmtpPool): Promise<void> {
    const reply = await lmtp.use((c) => c.checkRecipient(this.connector.deliverTo));
    if (reply.code >= 500) {
      throw new PermanentJobError(
        `getmail ${this.connector.id}: local user "${this.connector.deliverTo}" does not exist (LMTP: ${reply.code} ${reply.text}); nothing was fetched`,
        'ENOUSER',
      );
    }
    if (reply.code >= 400)
      throw new ProtocolError(
        `LMTP refused <${this.connector.deliverTo}> for now: ${reply.code} ${reply.text}`,
        'ELMTP',
        reply.code,
      );
  }

  private async fetchFolder(folder: RemoteFolder, remote: RemoteSession, lmtp: LmtpPool): Promise<void> {
    const { ctx, result } = this;
    const prefix = folderKeyPrefix(folder);
    const keys = folder.messages.map((m) => messageKey(folder, m));
    const previous = await this.store.swapValidity(folder.name, folder.validity);
    const known = [...this.seen.keys()].filter((k) => k.startsWith(prefix));
    // UIDVALIDITY changed, or a POP3 server renumbered its UIDLs (we knew messages here, none is listed):
    // UIDs cannot be trusted, so match by identity against what this account delivered.
    const untrusted =
      (previous !== null && previous !== folder.validity) ||
      (known.length > 0 && keys.length > 0 && keys.every((k) => !this.seen.has(k)));
    if (untrusted) {
      ctx.log.warn(
        { folder: folder.name, previous, current: folder.validity },
        'remote UIDs changed; matching messages by Message-ID and header digest',
      );
    }
    const todo = new Map<number, RemoteMessage>();
    let plannedBytes = 0;
    for (const msg of folder.messages) {
      const key = messageKey(folder, msg);
      if (this.seen.has(key)) continue;
      if (msg.size > this.limits.messageBytes) {
        result.tooBig++;
        await ctx.trail(
          `${folder.name}/${msg.id}: ${msg.size} bytes, over the ${this.limits.messageBytes}-byte limit; left on the server`,
        );
        continue;
      }
      if (
        todo.size >= this.limits.messages ||
        (todo.size > 0 && plannedBytes + msg.size > this.limits.bytes)
      ) {
        result.deferred++;
        continue;
      }
      if (this.inflight.has(key) && (await this.alreadyDelivered(folder, msg, remote))) continue;
      todo.set(msg.ref, msg);
      plannedBytes += msg.size;
    }
    // Retrieval runs ahead (POP3 pipelining) while up to `lmtp.size` deliveries run side by
    // side; the first failure stops retrieval, lets the deliveries under way finish, and is thrown.
    const delivering = new Set<Promise<void>>();
    let failure: { err: unknown } | undefined;
    const upcoming = [...todo.values()].map((m) => messageKey(folder, m));
    this.upcoming = { keys: upcoming, index: new Map(upcoming.map((k, i) => [k, i])), batched: new Set() };
    await folder
      .retrieveEach([...todo.keys()], async (ref, spool) => {
        if (!failure && ctx.signal.aborted) {
          failure = {
            err: new Error(`getmail ${this.connector.id}: stopped (${String(ctx.signal.reason)})`),
          };
        }
        // One delivery alone first: Dovecot's LMTP can deadlock on its mailbox list index when
        // parallel sessions make the first deliveries into a mailbox it has not opened yet.
        const slots = result.delivered > 0 ? lmtp.size : 1;
        while (!failure && delivering.size >= slots) await Promise.race(delivering);
        if (failure) {
          await spool.dispose();
          throw failure.err;
        }
        const task: Promise<void> = this.handleMessage(folder, todo.get(ref)!, spool, untrusted, remote, lmtp)
          .catch((err: unknown) => void (failure ??= { err }))
          .finally(() => {
            delivering.delete(task);
            return spool.dispose();
          });
        delivering.add(task);
      })
      .catch((err: unknown) => void (failure ??= { err }));
    await Promise.all(delivering);
    // Marked ahead but never handed to LMTP (the run stopped): nothing to look for next time.
    const unsent = [...this.marked.keys()];
    await Promise.allSettled(this.marked.values());
    this.marked.clear();
    await this.store.clearInflight(unsent.filter((k) => !this.inflight.has(k)));
    if (failure) throw failure.err;
    const now = Date.now();
    const due = folder.messages.filter((m) => {
      const at = this.seen.get(messageKey(folder, m));
      return at !== undefined && deletionDue(this.connector.delete, at, now);
    });
    if (due.length > 0) {
      await folder.delete(due.map((m) => m.ref));
      result.deletedRemote += due.length;
      ctx.log.info({ folder: folder.name, count: due.length }, 'deleted remotely');
    }
    const listed = new Set(keys);
    await this.store.forget(known.filter((k) => !listed.has(k)));
  }

  /** A message whose delivery outcome is unknown (interrupted run): is it in the local mailbox? */
  private async alreadyDelivered(
    folder: RemoteFolder,
    msg: RemoteMessage,
    remote: RemoteSession,
  ): Promise<boolean> {
    const { ctx, connector } = this;
    if (!(await this.deps.localHasTrace(connector, this.trace(folder, msg, remote), ctx))) return false;
    await this.done(messageKey(folder, msg), undefined);
    this.result.recovered++;
    ctx.log.info(
      { folder: folder.name, uid: msg.id },
      'already delivered before an interruption; recorded, not delivered again',
    );
    await ctx.trail(
      `${folder.name}/${msg.id}: already in the mailbox (interrupted run); not delivered again`,
    );
    return true;
  }

  private trace(folder: RemoteFolder, msg: RemoteMessage, remote: RemoteSession): string {
    return traceValue(
      this.connector.id,
      remote.protocol === 'pop3' ? undefined : folder.name,
      folder.validity,
      msg.id,
    );
  }

  private async handleMessage(
    folder: RemoteFolder,
    msg: RemoteMessage,
    spool: MessageSpool,
    untrusted: boolean,
    remote: RemoteSession,
    lmtp: LmtpPool,
  ): Promise<void> {
    const { ctx, connector, result, store } = this;
    const key = messageKey(folder, msg);
    const log = ctx.log.child({ folder: folder.name, uid: msg.id });
    result.fetched++;
    result.bytes += spool.size;
    const head = spool.head();
    const section = headerSection(head);
    const messageId = headerValue(section, 'Message-ID') ?? '';
    const identity = messageIdentity(head);
    const line = (outcome: string) =>
      ctx.trail(`${messageId || '(no Message-ID)'} ${spool.size} bytes: ${outcome}`);
    if (untrusted && (await store.hasIdentity(identity))) {
      await this.done(key, identity);
      result.duplicates++;
      await line('already delivered (same Message-ID and header); skipped');
      return;
    }
    const from = envelopeSender(head);
    const verdict = await applyFilters(
      spool,
      // the envelope recipient Rspamd sees is the remote address this account receives for
      { from, rcpt: connector.id },
      headerValue(section, 'Subject'),
      connector,
      ctx.config,
      ctx.signal,
    );
    if (verdict.kind === 'infected') {
      await this.done(key, identity);
      result.infected++;
      log.warn({ messageId, virus: verdict.virus }, 'infected message not delivered');
      return line(`infected (${verdict.virus}); not delivered`);
    }
    if (verdict.kind === 'discard') {
      await this.done(key, identity);
      result.spam++;
      result.discarded++;
      return line(`spam at reject level (score ${verdict.score}); discarded as configured`);
    }
    if (verdict.spam) result.spam++;
    if (verdict.skipped?.length) {
      log.info(
        { messageId, size: spool.size, skipped: verdict.skipped },
        'over the scanner size limit; not scanned',
      );
    }
    const added = headerBlock([
      receivedHeader({
        remoteHost: connector.host,
        protocol: remote.protocol,
        tls: remote.tls,
        account: connector.id,
        localUser: connector.deliverTo,
        date: new Date(),
      }),
      `${TRACE_HEADER}: ${this.trace(folder, msg, remote)}`,
      ...verdict.headers,
    ]);
    const body = verdict.subject
      ? [added, replaceHeader(section, 'Subject', verdict.subject), spool.chunks(section.length)]
      : [added, spool.chunks()];
    await this.markInflight(key);
    this.marked.delete(key); // from here on its outcome is settled below, or unknown (crash)
    try {
      await lmtp.use((c) =>
        c.deliver({ from, to: connector.deliverTo, message: concat(body), size: added.length + spool.size }),
      );
    } catch (err) {
      if (!(err instanceof ProtocolError) || err.responseCode === undefined) throw err; // outcome unknown: stays in flight
      await store.clearInflight([key]);
      if (err.responseCode < 500) {
        // 4xx: stop, retry with backoff; the message stays remote
        log.warn({ messageId, err: err.message }, 'LMTP deferred the message; the run stops');
        await line(`deferred by LMTP (${err.message}); left on the server, run stopped`);
        throw err;
      }
      result.failed++;
      log.warn({ messageId, err: err.message }, 'LMTP refused the message; left on the server');
      return line(`refused by LMTP (${err.message}); left on the server`);
    }
    await this.done(key, identity);
    result.delivered++;
    log.info({ messageId, size: spool.size, spam: verdict.spam }, 'delivered');
    const notes = [
      ...(verdict.spam ? ['spam'] : []),
      ...(verdict.skipped ?? []).map((f) => `${f} scan skipped: too big`),
    ];
    await line(notes.length ? `delivered (${notes.join('; ')})` : 'delivered');
  }

  /** Marks `key` in flight, with the next few keys of the folder in the same write. */
  private markInflight(key: string): Promise<void> {
    const pending = this.marked.get(key);
    if (pending) return pending;
    const at = this.upcoming.index.get(key);
    const batch =
      at === undefined
        ? [key]
        : this.upcoming.keys.slice(at, at + INFLIGHT_BATCH).filter((k) => !this.upcoming.batched.has(k));
    for (const k of batch) this.upcoming.batched.add(k);
    const write = this.store.markInflight(batch);
    write.catch(() => undefined); // awaited by the delivery that needs it
    for (const k of batch) this.marked.set(k, write);
    return write;
  }

  private async done(key: string, identity: string | undefined): Promise<void> {
    const at = Date.now();
    await this.marked.get(key); // marked ahead: that write first, so this one clears it
    this.marked.delete(key);
    await this.store.recordDone(key, identity, at);
    this.seen.set(key, at);
  }
}

/** Buffers and chunk sources one after the other, as one chunk source. */
async function* concat(parts: (Buffer | AsyncIterable<Buffer>)[]): AsyncGenerator<Buffer> {
  for (const p of parts) {
    if (Buffer.isBuffer(p)) yield p;
    else yield* p;
  }
}
