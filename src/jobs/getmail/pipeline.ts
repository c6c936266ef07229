/**
 * One folder's messages through retrieve → scan → deliver. Retrieval runs ahead (POP3
 * pipelining) while up to `lmtp.size` deliveries run side by side. A failure of one message
 * ({@link MessageError}) settles that message: counted, logged, left on the server, and the
 * run goes on. Any other failure stops retrieval, lets the deliveries under way finish, and
 * is thrown.
 */
import type { ConnectorConfig } from '../../config/schema.js';
import { MessageError, ProtocolError } from '../../core/errors.js';
import type { LmtpPool } from '../../mail/lmtp-pool.js';
import type { MessageSpool } from '../../mail/spool.js';
import type { JobContext } from '../types.js';
import { applyFilters, type FilterVerdict } from './filters.js';
import type { FetchLedger } from './ledger.js';
import type { FailureRecord } from './state.js';
import type { Listed } from './plan.js';
import type { GetmailResult } from './result.js';
import type { RemoteFolder, RemoteSession } from './source.js';
import {
  envelopeSender,
  headerBlock,
  headerSection,
  headerValue,
  messageIdentity,
  receivedHeader,
  replaceHeader,
  TRACE_HEADER,
} from './trace.js';

/** What the pipeline works with, for one run. */
export interface PipelineParts {
  ctx: JobContext;
  connector: ConnectorConfig;
  remote: RemoteSession;
  lmtp: LmtpPool;
  ledger: FetchLedger;
  result: GetmailResult;
  /** The trace header value of a message. */
  trace(folder: RemoteFolder, id: string): string;
}

/** An admin's "deliver anyway": no scan (the step that failed may be a scanner), null sender. */
const UNSCANNED: FilterVerdict = {
  kind: 'deliver',
  spam: false,
  headers: [],
  skipped: ['antivirus', 'antispam'],
};

/** RFC 3463 X.2.2, "mailbox full": Dovecot also says it for one message larger than the quota. */
const MAILBOX_FULL = '5.2.2';

export class DeliveryPipeline {
  /**
   * The last message refused as "mailbox full" with no delivery since. A second one means the
   * mailbox is full, not that the message is too big: the run stops, and the first one's
   * failure is taken back (it was not the message's).
   */
  private mailboxFull:
    { key: string; before: FailureRecord | undefined; recorded?: Promise<unknown> } | undefined;

  constructor(private readonly p: PipelineParts) {}

  /** Retrieves and delivers `todo` (in order); `untrusted`: match by identity too. */
  async run(folder: RemoteFolder, todo: Listed[], untrusted: boolean): Promise<void> {
    const { ctx, connector, lmtp, ledger, result } = this.p;
    const byRef = new Map(todo.map((l) => [l.msg.ref, l]));
    const delivering = new Set<Promise<void>>();
    let failure: { err: unknown } | undefined;
    ledger.startFolder(todo.map((l) => l.key));
    await folder
      .retrieveEach([...byRef.keys()], async (ref, spool) => {
        if (!failure && ctx.signal.aborted) {
          failure = { err: new Error(`getmail ${connector.id}: stopped (${String(ctx.signal.reason)})`) };
        }
        // One delivery alone first: Dovecot's LMTP can deadlock on its mailbox list index when
        // parallel sessions make the first deliveries into a mailbox it has not opened yet.
        const slots = result.delivered > 0 ? lmtp.size : 1;
        while (!failure && delivering.size >= slots) await Promise.race(delivering);
        if (failure) {
          await spool.dispose();
          throw failure.err;
        }
        const task: Promise<void> = this.handle(folder, byRef.get(ref)!, spool, untrusted)
          .catch((err: unknown) => void (failure ??= { err }))
          .finally(() => {
            delivering.delete(task);
            return spool.dispose();
          });
        delivering.add(task);
      })
      .catch((err: unknown) => void (failure ??= { err }));
    await Promise.all(delivering);
    await ledger.endFolder();
    if (failure) throw failure.err;
  }

  private async handle(folder: RemoteFolder, l: Listed, spool: MessageSpool, untrusted: boolean) {
    const { ctx, ledger, result } = this.p;
    result.fetched++;
    result.bytes += spool.size;
    const head = spool.head();
    const messageId = headerValue(headerSection(head), 'Message-ID') ?? '';
    const line = (outcome: string) =>
      ctx.trail(`${messageId || '(no Message-ID)'} ${spool.size} bytes: ${outcome}`);
    try {
      await this.scanAndDeliver(folder, l, spool, untrusted, messageId, line);
    } catch (err) {
      if (!(err instanceof MessageError)) throw err;
      if (err.cause instanceof ProtocolError && err.cause.enhancedCode === MAILBOX_FULL) {
        const first = this.mailboxFull;
        if (first) return this.stopMailboxFull(first, err.cause, line);
        this.mailboxFull = { key: l.key, before: ledger.failureOf(l.key) };
      }
      result.failed++;
      const recording = ledger.failed(l.key, { reason: err.message, ...(messageId ? { messageId } : {}) });
      if (this.mailboxFull?.key === l.key) this.mailboxFull.recorded = recording;
      const record = await recording;
      const log = ctx.log.child({ folder: folder.name, uid: l.msg.id });
      log.warn(
        { messageId, err: err.message, failures: record.failures },
        'message failed; left on the server',
      );
      await line(`${err.message}; left on the server`);
      if (record.heldAt !== undefined) {
        log.warn(
          { messageId, failures: record.failures },
          'message held: not tried again until an admin says so',
        );
        await line(
          `held after failing ${record.failures} runs in a row: not tried again until an admin retries it or has it delivered anyway`,
        );
      }
    }
  }

  /** A second "mailbox full" in a row: the mailbox's condition, not the message's. */
  private async stopMailboxFull(
    first: NonNullable<DeliveryPipeline['mailboxFull']>,
    err: ProtocolError,
    line: (outcome: string) => Promise<void>,
  ): Promise<never> {
    const { connector, ledger } = this.p;
    await first.recorded?.catch(() => undefined);
    await ledger.restoreFailure(first.key, first.before);
    await line(`refused by LMTP (${err.message}); the mailbox is full: left on the server, run stopped`);
    throw new ProtocolError(
      `getmail ${connector.id}: the mailbox of ${connector.deliverTo} is full (${err.message}); nothing more is delivered until it has room`,
      'EMAILBOXFULL',
      err.responseCode,
      err.enhancedCode,
    );
  }

  private async scanAndDeliver(
    folder: RemoteFolder,
    { key, msg }: Listed,
    spool: MessageSpool,
    untrusted: boolean,
    messageId: string,
    line: (outcome: string) => Promise<void>,
  ): Promise<void> {
    const { ctx, connector, remote, lmtp, ledger, result } = this.p;
    const log = ctx.log.child({ folder: folder.name, uid: msg.id });
    const head = spool.head();
    const section = headerSection(head);
    const identity = messageIdentity(head);
    if (untrusted && (await ledger.hasIdentity(identity))) {
      await ledger.done(key, identity);
      result.duplicates++;
      return line('already delivered (same Message-ID and header); skipped');
    }
    const anyway = ledger.deliverAnyway(key);
    const from = anyway ? '' : envelopeSender(head);
    const verdict = anyway
      ? UNSCANNED
      : await applyFilters(
          spool,
          // the envelope recipient Rspamd sees is the remote address this account receives for
          { from, rcpt: connector.id },
          headerValue(section, 'Subject'),
          connector,
          ctx.config,
          ctx.signal,
        );
    if (verdict.kind === 'infected') {
      await ledger.done(key, identity);
      result.infected++;
      log.warn({ messageId, virus: verdict.virus }, 'infected message not delivered');
      return line(`infected (${verdict.virus}); not delivered`);
    }
    if (verdict.kind === 'discard') {
      await ledger.done(key, identity);
      result.spam++;
      result.discarded++;
      return line(`spam at reject level (score ${verdict.score}); discarded as configured`);
    }
    if (verdict.spam) result.spam++;
    if (verdict.skipped?.length && !anyway) {
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
      `${TRACE_HEADER}: ${this.p.trace(folder, msg.id)}`,
      ...verdict.headers,
    ]);
    const body = verdict.subject
      ? [added, replaceHeader(section, 'Subject', verdict.subject), spool.chunks(section.length)]
      : [added, spool.chunks()];
    await ledger.handOver(key);
    try {
      await lmtp.use((c) =>
        c.deliver({ from, to: connector.deliverTo, message: concat(body), size: added.length + spool.size }),
      );
    } catch (err) {
      // Refused by our own client before sending (no reply code) or by the server: not delivered.
      const known =
        err instanceof ProtocolError && (err.responseCode !== undefined || err.code === 'EENVELOPE');
      if (!known) throw err; // outcome unknown: stays in flight
      await ledger.notDelivered(key);
      if (err.responseCode !== undefined && err.responseCode < 500) {
        // 4xx: stop, retry with backoff; the message stays remote
        log.warn({ messageId, err: err.message }, 'LMTP deferred the message; the run stops');
        await line(`deferred by LMTP (${err.message}); left on the server, run stopped`);
        throw err;
      }
      throw new MessageError(`refused by LMTP (${err.message})`, err.code, { cause: err });
    }
    await ledger.done(key, identity);
    this.mailboxFull = undefined; // it had room: a "mailbox full" before was that message's size
    result.delivered++;
    log.info({ messageId, size: spool.size, spam: verdict.spam, anyway }, 'delivered');
    const notes = [
      ...(anyway ? ['anyway, as an admin asked: unscanned, null sender'] : []),
      ...(verdict.spam ? ['spam'] : []),
      ...(anyway ? [] : (verdict.skipped ?? []).map((f) => `${f} scan skipped: too big`)),
    ];
    await line(notes.length ? `delivered (${notes.join('; ')})` : 'delivered');
  }
}

/** Buffers and chunk sources one after the other, as one chunk source. */
async function* concat(parts: (Buffer | AsyncIterable<Buffer>)[]): AsyncGenerator<Buffer> {
  for (const p of parts) {
    if (Buffer.isBuffer(p)) yield p;
    else yield* p;
  }
}
