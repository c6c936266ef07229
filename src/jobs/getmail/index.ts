/**
 * getmail: POP3/IMAP connectors. One job per connector (`{ account }`), scheduled every
 * `intervalMinutes` (a new or changed connector is fetched at once), or triggered on demand,
 * or by the push watcher (push/watcher.ts) when an IMAP account gets new mail.
 */
import type { ConnectorConfig } from '../../config/schema.js';
import { PermanentJobError } from '../../core/errors.js';
import { localMessageExists } from '../../mail/imap.js';
import type { JobContext, StatusContext, StatusRow } from '../types.js';
import { defineJob } from '../types.js';
import { runPhrase, runSeverity, worst } from '../run-status.js';
import { RunRecordStore } from '../../worker/run-record.js';
import { getmail, type GetmailDeps } from './processor.js';
import { localMailbox } from './rebuild.js';
import { PushLeases } from './push/lease.js';
import { PushStateStore, pushView } from './push/state.js';
import { watchPush } from './push/watcher.js';
import { openRemote } from './remote.js';
import { getmailContract } from './schema.js';
import { SeenUidStore } from './state.js';
import { TRACE_HEADER } from './trace.js';

/** Looks for the trace header in the user's local mailbox, as Dovecot's master user. */
async function localHasTrace(connector: ConnectorConfig, trace: string, ctx: JobContext): Promise<boolean> {
  const opts = localMailbox(connector, ctx);
  if (!opts) {
    throw new PermanentJobError(
      `getmail ${connector.id}: a delivery was interrupted and cannot be checked without dovecot.masterPasswordFile in the config`,
      'ENOMASTER',
    );
  }
  return localMessageExists(opts, TRACE_HEADER, trace);
}

export const realDeps: GetmailDeps = { openRemote, localHasTrace };

/** The counts of a connector's last success, as its row and the Connectors page say them. */
function deliveredText(c: Record<string, unknown>): string {
  return `${Number(c.delivered ?? 0)} delivered`;
}

/**
 * One row per connector: how its runs went (the run record), and its held messages (a warning:
 * the account works, an admin has messages to decide on).
 */
async function connectorStatus(ctx: StatusContext): Promise<StatusRow[]> {
  const runs = new RunRecordStore(ctx.redis, ctx.key);
  const ids = ctx.config.connectors.map((c) => c.id);
  const [pushStates, leaseHolders] = await Promise.all([
    new PushStateStore(ctx.redis, ctx.key).readAll(),
    PushLeases.holders(ctx.redis, ctx.key, ids),
  ]);
  return Promise.all(
    ctx.config.connectors.map(async (c, i) => {
      const push = pushView(c, pushStates.get(c.id), leaseHolders[i]);
      const store = new SeenUidStore(ctx.redis, ctx.key, c.id, 1);
      const [run, held] = await Promise.all([runs.read('getmail', c.id), store.held()]);
      const heldNote =
        held.length > 0
          ? `; ${held.length} held (${held.map((h) => `${h.messageId ?? h.key}: ${h.reason}`).join('; ')})`
          : '';
      return {
        target: c.id,
        summary: `${c.protocol}://${c.host} → ${c.deliverTo}: ${c.enabled ? runPhrase(run, deliveredText) : 'disabled'}${heldNote}`,
        severity: worst(c.enabled ? runSeverity(run) : 'ok', held.length > 0 ? 'warning' : 'ok'),
        ...(run ? { run } : {}),
        details: {
          protocol: c.protocol,
          host: c.host,
          deliverTo: c.deliverTo,
          enabled: c.enabled,
          held,
          push,
        },
      };
    }),
  );
}

export const getmailJob = defineJob({
  ...getmailContract,
  concurrency: 10,
  process: (payload, ctx) => getmail(payload, ctx, realDeps),
  schedules: (config) =>
    config.connectors
      .filter((c) => c.enabled)
      .map((c) => ({
        id: `getmail:${c.id}`,
        payload: { account: c.id },
        everyMs: c.intervalMinutes * 60_000,
        runOnChange: true,
      })),
  moved: (r) => [
    { action: 'fetched', messages: r.fetched, bytes: r.bytes },
    { action: 'delivered', messages: r.delivered },
  ],
  status: connectorStatus,
  background: watchPush,
});
