/**
 * getmail: fetch what is new on one connector's remote account and deliver it to the local
 * user over LMTP, exactly once. A run reads the account's books (ledger.ts), and per folder:
 * plans (plan.ts), sends the planned messages through retrieve → scan → mark in flight → LMTP
 * → record as seen (pipeline.ts), then deletes remotely what is due and forgets what is gone.
 * A crash anywhere is repaired on the next run: a message still "in flight" is looked up in
 * the local mailbox by its trace header before it is delivered again.
 */
import type { ConnectorConfig } from '../../config/schema.js';
import { PermanentJobError, ProtocolError } from '../../core/errors.js';
import { LmtpPool } from '../../mail/lmtp-pool.js';
import { pauseOnDailyLimit, pausedText, pausedUntil } from '../account-pause.js';
import type { JobContext } from '../types.js';
import { FetchLedger } from './ledger.js';
import { DeliveryPipeline } from './pipeline.js';
import { planFolder, suspects, toDelete, toForget, uidsUntrusted, type Limits, type Listed } from './plan.js';
import { rebuildSeenFromMailbox } from './rebuild.js';
import { emptyResult, type GetmailResult } from './result.js';
import { findConnector, type GetmailPayload } from './schema.js';
import { folderKeyPrefix, messageKey, type RemoteFolder, type RemoteSession } from './source.js';
import { SeenUidStore } from './state.js';
import { traceValue } from './trace.js';

export type { GetmailResult } from './result.js';

/** How getmail reaches the outside: replaced in tests that need a failing piece. */
export interface GetmailDeps {
  openRemote(connector: ConnectorConfig, ctx: JobContext): Promise<RemoteSession>;
  /** True when a message with this trace value is already in the user's local mailbox. */
  localHasTrace(connector: ConnectorConfig, trace: string, ctx: JobContext): Promise<boolean>;
}

export async function getmail(
  payload: GetmailPayload,
  ctx: JobContext,
  deps: GetmailDeps,
): Promise<GetmailResult> {
  const connector = findConnector(ctx.config, payload.account);
  const store = new SeenUidStore(
    ctx.redis,
    ctx.key,
    connector.id,
    ctx.config.getmail.stateRetentionDays * 86_400,
  );
  if (!connector.enabled) return { ...emptyResult(connector.id), skipped: 'disabled' };
  const paused = await pausedUntil(ctx, 'getmail', connector.id);
  if (paused) return { ...emptyResult(connector.id), skipped: pausedText(paused) };
  const started = Date.now();
  try {
    const result = await new FetchRun(connector, ctx, deps, store).run();
    result.durationMs = Date.now() - started;
    return result;
  } catch (err) {
    await pauseOnDailyLimit(ctx, 'getmail', connector.id, err);
    throw err;
  } finally {
    await store.extendRetention();
  }
}

class FetchRun {
  private readonly result: GetmailResult;
  private readonly limits: Limits;
  private readonly ledger: FetchLedger;

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
    this.ledger = new FetchLedger(store, g.holdAfterFailures);
  }

  async run(): Promise<GetmailResult> {
    const { ctx, connector } = this;
    const g = ctx.config.getmail;
    const lmtp = new LmtpPool(
      ctx.config.dovecot.lmtp,
      { connectTimeoutMs: g.connectTimeoutSeconds * 1000, commandTimeoutMs: g.commandTimeoutSeconds * 1000 },
      g.lmtpConnections,
      ctx.lmtpSlots.forLimit(g.maxLmtpConnectionsPerProcess),
    );
    try {
      await this.checkLocalUser(lmtp);
      // No state (first run, or Redis lost it): the local mailbox says what was delivered.
      if (!(await this.store.exists())) await this.store.seed(await rebuildSeenFromMailbox(connector, ctx));
      await this.ledger.load();
      const remote = await this.deps.openRemote(connector, ctx);
      try {
        const pipeline = new DeliveryPipeline({
          ctx,
          connector,
          remote,
          lmtp,
          ledger: this.ledger,
          result: this.result,
          trace: (folder, id) => this.trace(remote, folder, id),
        });
        for await (const folder of remote.folders()) await this.fetchFolder(folder, remote, pipeline);
      } finally {
        await remote.close();
      }
    } finally {
      await lmtp.close();
    }
    this.result.held = this.ledger.held();
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

  private async fetchFolder(folder: RemoteFolder, remote: RemoteSession, pipeline: DeliveryPipeline) {
    const { ctx, result, ledger } = this;
    const prefix = folderKeyPrefix(folder);
    const listed: Listed[] = folder.messages.map((msg) => ({ key: messageKey(folder, msg), msg }));
    const previousValidity = await this.store.swapValidity(folder.name, folder.validity);
    const memory = ledger.memory();
    const untrusted = uidsUntrusted({
      previousValidity,
      validity: folder.validity,
      known: [...memory.seen.keys()].filter((k) => k.startsWith(prefix)),
      listed: listed.map((l) => l.key),
      seen: memory.seen,
    });
    if (untrusted) {
      ctx.log.warn(
        { folder: folder.name, previous: previousValidity, current: folder.validity },
        'remote UIDs changed; matching messages by Message-ID and header digest',
      );
    }
    const recovered = new Set<string>();
    for (const l of suspects(listed, memory, this.limits)) {
      if (await this.alreadyDelivered(folder, l, remote)) recovered.add(l.key);
    }
    const plan = planFolder(listed, memory, this.limits, recovered);
    for (const { msg } of plan.tooBig) {
      result.tooBig++;
      await ctx.trail(
        `${folder.name}/${msg.id}: ${msg.size} bytes, over the ${this.limits.messageBytes}-byte limit; left on the server`,
      );
    }
    result.deferred += plan.deferred;
    await pipeline.run(folder, plan.fetch, untrusted);
    const due = toDelete(listed, ledger.memory(), this.connector.delete, Date.now());
    if (due.length > 0) {
      await folder.delete(due.map((l) => l.msg.ref));
      result.deletedRemote += due.length;
      ctx.log.info({ folder: folder.name, count: due.length }, 'deleted remotely');
    }
    const remembered = ledger.remembered();
    await ledger.forget({
      seen: toForget(remembered.seen, prefix, listed),
      failures: toForget(remembered.failures, prefix, listed),
    });
  }

  /** A message whose delivery outcome is unknown (interrupted run): is it in the local mailbox? */
  private async alreadyDelivered(folder: RemoteFolder, { key, msg }: Listed, remote: RemoteSession) {
    const { ctx, connector } = this;
    const trace = this.trace(remote, folder, msg.id);
    if (!(await this.deps.localHasTrace(connector, trace, ctx))) return false;
    await this.ledger.done(key, undefined);
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

  private trace(remote: RemoteSession, folder: RemoteFolder, id: string): string {
    return traceValue(
      this.connector.id,
      remote.protocol === 'pop3' ? undefined : folder.name,
      folder.validity,
      id,
    );
  }
}
