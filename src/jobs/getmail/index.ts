/**
 * getmail: POP3/IMAP connectors. One job per connector (`{ account }`), scheduled every
 * `intervalMinutes` (a new or changed connector is fetched at once), or triggered on demand.
 */
import type { ConnectorConfig } from '../../config/schema.js';
import { PermanentJobError } from '../../core/errors.js';
import { localMessageExists } from '../../mail/imap.js';
import type { JobContext, StatusContext, StatusRow } from '../types.js';
import { defineJob } from '../types.js';
import { getmail, type GetmailDeps } from './processor.js';
import { localMailbox } from './rebuild.js';
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

function ago(ms: number | undefined): string {
  if (ms === undefined) return 'never';
  const min = Math.round((Date.now() - ms) / 60_000);
  return min < 1 ? 'just now' : min < 120 ? `${min} min ago` : `${Math.round(min / 60)} h ago`;
}

/** One row per connector: last run, outcome, consecutive failures and held messages. */
async function connectorStatus(ctx: StatusContext): Promise<StatusRow[]> {
  return Promise.all(
    ctx.config.connectors.map(async (c) => {
      const store = new SeenUidStore(ctx.redis, ctx.key, c.id, 1);
      const [stats, held] = await Promise.all([store.stats(), store.held()]);
      const last = stats.lastResult as { delivered?: number } | undefined;
      const summary = !c.enabled
        ? 'disabled'
        : stats.consecutiveFailures > 0
          ? `failing (${stats.consecutiveFailures}x): ${stats.lastError ?? ''}`
          : `ok ${ago(stats.lastSuccessAt)}${last ? `, ${last.delivered ?? 0} delivered` : ''}`;
      const heldNote = held.length > 0 ? `; ${held.length} held (${held.map((h) => `${h.messageId ?? h.key}: ${h.reason}`).join('; ')})` : ''; // prettier-ignore
      return {
        target: c.id,
        summary: `${c.protocol}://${c.host} → ${c.deliverTo}: ${summary}${heldNote}`,
        alert: (c.enabled && stats.consecutiveFailures > 0) || held.length > 0,
        details: { protocol: c.protocol, host: c.host, deliverTo: c.deliverTo, enabled: c.enabled, ...stats, held }, // prettier-ignore
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
});
