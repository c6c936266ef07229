/**
 * The mailbox is the source of truth: an account with no state in Redis (never run, or its
 * state lost with a flushed or new Redis) first reads the trace headers of its messages
 * already in the local mailbox, every folder (sieve files mail into Junk, users move it), and
 * counts those messages as fetched. Losing Redis costs this search, never a duplicate.
 */
import type { ConnectorConfig } from '../../config/schema.js';
import { type LocalMailboxOptions, topmostHeaderValues } from '../../mail/imap.js';
import type { JobContext } from '../types.js';
import { messageKey } from './source.js';
import { parseTraceValue, TRACE_HEADER } from './trace.js';

/** How to search `connector`'s local mailbox as Dovecot's master user; undefined without `dovecot.masterPasswordFile`. */
export function localMailbox(connector: ConnectorConfig, ctx: JobContext): LocalMailboxOptions | undefined {
  const { imap, masterUser, masterPasswordFile } = ctx.config.dovecot;
  if (!masterPasswordFile) return undefined;
  return {
    host: imap.host,
    port: imap.port,
    security: imap.security,
    verifyCertificate: imap.verifyCertificate,
    user: connector.deliverTo,
    masterUser,
    masterPassword: masterPasswordFile.reveal(),
    signal: ctx.signal,
  };
}

/**
 * The keys (see {@link messageKey}) of the messages this account already delivered to the
 * local mailbox. Only a message's topmost trace counts: getmail adds its own above the
 * message's header, so a trace further down came with the message (from another fetcher, or
 * forged by its sender) and says nothing about this account.
 */
export async function rebuildSeenFromMailbox(connector: ConnectorConfig, ctx: JobContext): Promise<string[]> {
  const started = Date.now();
  const opts = localMailbox(connector, ctx);
  if (!opts) {
    // Failing instead would stop every new connector of a setup without a master user.
    ctx.log.warn('no state for this account and no dovecot.masterPasswordFile: not rebuilt from the mailbox');
    await ctx.trail(
      'no state, not rebuilt from the mailbox (no dovecot.masterPasswordFile): what is on the server is new',
    );
    return [];
  }
  const values = await topmostHeaderValues(opts, TRACE_HEADER, `${connector.id} `);
  const keys = new Set<string>();
  for (const value of values) {
    const traced = parseTraceValue(connector.id, value);
    if (traced) keys.add(messageKey({ name: traced.folder, validity: traced.validity }, traced));
  }
  const ms = Date.now() - started;
  ctx.log.info(
    { traced: values.length, keys: keys.size, durationMs: ms },
    'no state for this account: rebuilt from the local mailbox',
  );
  if (keys.size > 0)
    await ctx.trail(
      `no state: ${keys.size} messages found already fetched in the local mailbox (${ms} ms); not fetched again`,
    );
  return [...keys];
}
