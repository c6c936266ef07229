/**
 * The connections of one folder worker: the remote account (source, imapflow), the local
 * mailbox as `<localUser>*<masterUser>` (destination, imapflow for reading and flags), and a
 * second destination connection that only APPENDs (imap-append.ts: streamed, pipelined).
 * Failures to connect or log in come out typed by side (`auth_failed_source`, ...).
 */
import type { ImapFlow } from 'imapflow';
import type { RemoteLogin } from '../../config/sync-schema.js';
import { PermanentJobError } from '../../core/errors.js';
import { ImapAppender } from '../../mail/imap-append.js';
import {
  type ImapConnectOptions,
  connectImap,
  defaultImapPort,
  masterUserLogin,
} from '../../mail/imap-connect.js';
import { syncOAuthAccount } from '../../oauth/accounts.js';
import { jobTokenStore } from '../../oauth/token-store.js';
import type { JobContext } from '../types.js';
import { type Side, sideFailure } from './outcome.js';
import type { ResolvedTask } from './task.js';

/** A folder worker's connections; `close()` logs out of all of them. */
export interface SessionPair {
  src: ImapFlow;
  dst: ImapFlow;
  /** APPEND-only connections to the destination, used in turn (opened on first use). */
  appenders(): Promise<ImapAppender[]>;
  close(): Promise<void>;
}

type Login = Pick<ImapConnectOptions, 'user' | 'password' | 'authzid'>;

/**
 * How a password login is sent: plain, `user*admin`, or SASL PLAIN with an authzid. An OAuth
 * login sends the user and a token (see {@link connectSource}).
 */
export function remoteLogin(l: Exclude<RemoteLogin, { kind: 'oauth2' }>): Login {
  const password = l.password.reveal();
  if (l.kind === 'user') return { user: l.username, password };
  if (l.kind === 'master') return { user: `${l.username}${l.separator}${l.admin}`, password };
  return { user: l.admin, password, authzid: l.username };
}

/** Connects to the remote side, with an access token from the task's stored grant for `oauth2`. */
function connectSource(task: ResolvedTask, ctx: JobContext, source: ImapConnectOptions): Promise<ImapFlow> {
  const { login } = task.remote;
  if (login.kind !== 'oauth2') return connectImap({ ...source, ...remoteLogin(login) });
  const account = syncOAuthAccount({ id: task.target, remote: task.remote }, login.username, login.oauth);
  return jobTokenStore(ctx).loginWith(account, (accessToken) =>
    connectImap({ ...source, user: login.username, accessToken }),
  );
}

function endpoints(task: ResolvedTask, ctx: JobContext, signal: AbortSignal) {
  const s = ctx.config.imapsync;
  const timeouts = {
    connectTimeoutMs: s.connectTimeoutSeconds * 1000,
    socketTimeoutMs: s.commandTimeoutSeconds * 1000,
    signal,
  };
  const r = task.remote;
  const source: ImapConnectOptions = {
    host: r.host,
    ...(r.address !== undefined ? { address: r.address } : {}),
    port: r.port ?? defaultImapPort(r.security),
    security: r.security,
    verifyCertificate: r.verifyCertificate,
    user: r.login.username,
    ...timeouts,
  };
  const { imap, masterUser, masterPasswordFile } = ctx.config.dovecot;
  if (!masterPasswordFile) {
    throw new PermanentJobError(
      'imapsync needs dovecot.masterPasswordFile in the config: the local side logs in as <user>*<masterUser>',
      'ENOMASTER',
    );
  }
  const destination: ImapConnectOptions = {
    host: imap.host,
    port: imap.port,
    security: imap.security,
    verifyCertificate: imap.verifyCertificate,
    user: masterUserLogin(task.localUser, masterUser),
    password: masterPasswordFile.reveal(),
    ...timeouts,
  };
  return { source, destination, masterPassword: masterPasswordFile.reveal() };
}

async function onSide<T>(side: Side, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (err) {
    throw sideFailure(side, err);
  }
}

/**
 * APPEND connections per folder worker. Dovecot stores (and fsyncs) each appended message before
 * answering, so a second connection overlaps one batch's disk writes with the next one's.
 */
const APPENDERS = 2;

/** Opens the connections at once; if one fails, the others are closed and its error thrown. */
export async function openSessions(
  task: ResolvedTask,
  ctx: JobContext,
  signal: AbortSignal,
): Promise<SessionPair> {
  const { source, destination, masterPassword } = endpoints(task, ctx, signal);
  const [src, dst] = await Promise.allSettled([
    onSide('source', () => connectSource(task, ctx, source)),
    onSide('destination', () => connectImap(destination)),
  ]);
  if (src.status === 'rejected' || dst.status === 'rejected') {
    if (src.status === 'fulfilled') src.value.close();
    if (dst.status === 'fulfilled') dst.value.close();
    // The source's failure first: a wrong remote password is what the admin must hear about.
    throw src.status === 'rejected' ? src.reason : (dst as PromiseRejectedResult).reason;
  }
  // The APPEND connections are opened when the first message is copied: a run with nothing
  // new never needs them.
  let apps: Promise<ImapAppender[]> | undefined;
  const login = { user: destination.user, password: masterPassword };
  const openApps = async (): Promise<ImapAppender[]> => {
    const opened = await Promise.allSettled(
      Array.from({ length: APPENDERS }, () =>
        onSide('destination', () => ImapAppender.open(destination, login)),
      ),
    );
    const failed = opened.find((r) => r.status === 'rejected');
    const ok = opened.filter((r) => r.status === 'fulfilled').map((r) => r.value);
    if (!failed) return ok;
    for (const a of ok) a.close();
    throw failed.reason;
  };
  return {
    src: src.value,
    dst: dst.value,
    appenders() {
      apps ??= openApps();
      apps.catch(() => (apps = undefined)); // retried by the next copy
      return apps;
    },
    async close() {
      const opened = apps ? await apps.catch(() => []) : [];
      await Promise.allSettled([
        src.value.logout().catch(() => src.value.close()),
        dst.value.logout().catch(() => dst.value.close()),
        ...opened.map((a) => a.logout()),
      ]);
    },
  };
}
