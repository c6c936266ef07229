/**
 * spam-expunge: for every user (or one), expunge the Junk messages saved longer ago than the
 * user's retention. Users run `spamExpunge.concurrency` at a time; each user's outcome is in the
 * result. The run itself fails only when nothing could be done for anyone: every login refused
 * (the master password is wrong) or every user unreachable (Dovecot is down: retried later).
 */
import { setMaxListeners } from 'node:events';
import { AuthenticationError, PermanentJobError, ProtocolError } from '../../core/errors.js';
import { listDovecotUsers } from '../../mail/dovecot.js';
import type { JobContext } from '../types.js';
import { forEachLimited, retentionFor } from './retention.js';
import type { SpamExpungePayload } from './schema.js';
import { cleanUserJunk, type UserOutcome } from './user-junk.js';

export interface SpamExpungeResult extends Record<string, unknown> {
  dryRun: boolean;
  users: number;
  examined: number;
  /** Saved before the cutoff: expunged, or (dry run) would be. */
  old: number;
  expunged: number;
  kept: number;
  infinite: number;
  noJunk: number;
  loginRefused: number;
  errors: number;
  durationMs: number;
  /** One entry per user, in the order they were listed. */
  perUser: UserOutcome[];
}

/** The users of this run: the payload's one, the configured list, or Dovecot's. */
async function usersOf(payload: SpamExpungePayload, ctx: JobContext): Promise<string[]> {
  if (payload.user) return [payload.user];
  const { users, doveadm } = ctx.config.spamExpunge;
  return users === 'doveadm' ? listDovecotUsers(doveadm, { signal: ctx.signal }) : [...users];
}

function totals(perUser: UserOutcome[], dryRun: boolean, started: number): SpamExpungeResult {
  const count = (s: UserOutcome['status']) => perUser.filter((u) => u.status === s).length;
  const sum = (f: 'examined' | 'old' | 'expunged' | 'kept') => perUser.reduce((n, u) => n + u[f], 0);
  return {
    dryRun,
    users: perUser.length,
    examined: sum('examined'),
    old: sum('old'),
    expunged: sum('expunged'),
    kept: sum('kept'),
    infinite: count('infinite'),
    noJunk: count('no-junk'),
    loginRefused: count('login-refused'),
    errors: count('error'),
    durationMs: Date.now() - started,
    perUser,
  };
}

/** Throws when the failures say the run as a whole cannot work (see the module comment). */
function failWhenNothingWorked(perUser: UserOutcome[]): void {
  const tried = perUser.filter((u) => u.status !== 'infinite');
  if (tried.length === 0) return;
  if (tried.every((u) => u.status === 'login-refused')) {
    throw new AuthenticationError(
      `every master-user login was refused (${tried.length} user(s), e.g. ${tried[0]!.user}): ` +
        'check dovecot.masterUser and dovecot.masterPasswordFile, or whether the user exists',
    );
  }
  const unreachable = (u: UserOutcome) => u.code === 'ECONNECTION' || u.code === 'ETIMEOUT';
  if (tried.length > 1 && tried.every(unreachable)) {
    throw new ProtocolError(`Dovecot IMAP unreachable for every user: ${tried[0]!.error}`, tried[0]!.code!);
  }
  if (tried.length === 1 && tried[0]!.status === 'error' && unreachable(tried[0]!)) {
    throw new ProtocolError(tried[0]!.error!, tried[0]!.code!);
  }
}

export async function spamExpunge(payload: SpamExpungePayload, ctx: JobContext): Promise<SpamExpungeResult> {
  const started = Date.now();
  const secret = ctx.config.dovecot.masterPasswordFile;
  if (!secret) {
    throw new PermanentJobError(
      'spam-expunge logs in as Dovecot master user: set dovecot.masterPasswordFile in the config',
      'ENOMASTER',
    );
  }
  // Every open IMAP session listens on the job's signal: `concurrency` of them at once is expected.
  setMaxListeners(ctx.config.spamExpunge.concurrency + 10, ctx.signal);
  const users = await usersOf(payload, ctx);
  const now = new Date();
  const perUser: UserOutcome[] = new Array<UserOutcome>(users.length);
  let done = 0;
  let lastProgress = 0;
  await forEachLimited(
    users,
    ctx.config.spamExpunge.concurrency,
    async (user, i) => {
      const retention = retentionFor(user, ctx.config.spamExpunge);
      const outcome = await cleanUserJunk(user, retention, ctx, {
        dryRun: payload.dryRun,
        now,
        masterPassword: secret.reveal(),
      });
      perUser[i] = outcome;
      done++;
      if (outcome.status === 'error' || outcome.error) {
        ctx.log.warn({ user, err: outcome.error, code: outcome.code }, 'spam-expunge: user failed');
      } else if (outcome.old > 0) {
        ctx.log.info(
          { user, folders: outcome.folders, old: outcome.old, expunged: outcome.expunged },
          'junk cleaned',
        );
      }
      if (done === users.length || Date.now() - lastProgress > 1000) {
        lastProgress = Date.now();
        // Progress is for the dashboard only: a Redis hiccup here must not fail the cleaning.
        await ctx.progress({ done, total: users.length }).catch(() => undefined);
      }
    },
    ctx.signal,
  );
  failWhenNothingWorked(perUser);
  return totals(perUser, payload.dryRun, started);
}
