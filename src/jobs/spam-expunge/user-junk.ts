/**
 * One user's part of a spam-expunge run: log in as `user*vmail`, find the Junk folder, expunge
 * what is older than the user's retention. Every outcome, failures included, comes back as a
 * {@link UserOutcome}: one user's problem never stops the run.
 */
import type { Retention } from '../../config/junk.js';
import { AuthenticationError, PermanentJobError, ProtocolError } from '../../core/errors.js';
import { connectImap, expungeOlderThan, findJunkFolders, masterUserLogin } from '../../mail/imap.js';
import type { JobContext } from '../types.js';
import { cutoffFor } from './retention.js';

/** What happened to one user's Junk. */
export interface UserOutcome {
  user: string;
  retentionDays: Retention;
  /**
   * `done`: cleaned (or measured, in a dry run); `infinite`: kept by policy, not opened;
   * `no-junk`: no \Junk folder (or no folder of the configured name); `login-refused`: Dovecot
   * refused the master-user login (mail disabled, or no such user); `error`: see `error`.
   */
  status: 'done' | 'infinite' | 'no-junk' | 'login-refused' | 'error';
  folders: string[];
  /** Messages in Junk. */
  examined: number;
  /** Saved before the cutoff: expunged, or (dry run) would be. */
  old: number;
  expunged: number;
  kept: number;
  error?: string;
  /** For failures: the error's code (`ECONNECTION`, `ETIMEOUT`, `EAUTH`...). */
  code?: string;
}

/** Cleans `user`'s Junk; never throws except for an abort of the run. */
export async function cleanUserJunk(
  user: string,
  retention: Retention,
  ctx: JobContext,
  opts: { dryRun: boolean; now: Date; masterPassword: string },
): Promise<UserOutcome> {
  const outcome: UserOutcome = {
    user,
    retentionDays: retention,
    status: 'done',
    folders: [],
    examined: 0,
    old: 0,
    expunged: 0,
    kept: 0,
  };
  const cutoff = cutoffFor(retention, opts.now);
  if (!cutoff) return { ...outcome, status: 'infinite' };
  const { imap, masterUser } = ctx.config.dovecot;
  const { junkFolder, batchSize } = ctx.config.spamExpunge;
  try {
    const client = await connectImap({
      ...imap,
      user: masterUserLogin(user, masterUser),
      password: opts.masterPassword,
      signal: ctx.signal,
    });
    try {
      outcome.folders = await findJunkFolders(client, junkFolder);
      if (outcome.folders.length === 0) return { ...outcome, status: 'no-junk' };
      for (const folder of outcome.folders) {
        const r = await expungeOlderThan(client, folder, {
          cutoff,
          dryRun: opts.dryRun,
          batchSize,
          signal: ctx.signal,
        });
        outcome.examined += r.examined;
        outcome.old += r.old;
        outcome.expunged += r.expunged;
        if (r.flaggedOnly) outcome.error = `${folder}: no UIDPLUS; old messages flagged \\Deleted only`;
      }
      outcome.kept = outcome.examined - outcome.expunged;
      return outcome;
    } finally {
      await client.logout().catch(() => client.close());
    }
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    const e = err as Error & { code?: string };
    const code = e instanceof ProtocolError || e instanceof PermanentJobError ? e.code : undefined;
    const status = err instanceof AuthenticationError ? 'login-refused' : 'error';
    return { ...outcome, status, error: e.message, ...(code ? { code } : {}) };
  }
}
