/**
 * Opening an IMAP session with imapflow: our three security modes mapped onto its options, no
 * silent cleartext fallback, errors classified ({@link classifyImapError}), and an AbortSignal
 * that ends the session whenever it fires.
 */
import { isIP } from 'node:net';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import { InvalidPayloadError, ProtocolError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { sessionError, trackSession } from './imap-errors.js';
import { defaultMailPort } from './ports.js';
import type { MailSecurity } from './tls.js';

/** The port when none is given: 993 for implicit TLS (RFC 8314), else 143. */
export function defaultImapPort(security: MailSecurity): number {
  return defaultMailPort('imap', security);
}

/** Where and as whom to connect. */
export interface ImapConnectOptions {
  host: string;
  /**
   * Connect to this address instead of resolving `host` again (an address already checked);
   * `host` stays the name the certificate is checked against (TLS SNI).
   */
  address?: string;
  port: number;
  security: MailSecurity;
  /** Check the server certificate against the system CAs and `host`. Off only for self-signed servers. */
  verifyCertificate: boolean;
  user: string;
  /** The password, for LOGIN or AUTHENTICATE PLAIN; or else `accessToken`. */
  password?: string;
  /**
   * An OAuth 2.0 access token instead of a password: imapflow sends it with AUTHENTICATE
   * OAUTHBEARER (RFC 7628) when the server announces it, else XOAUTH2.
   */
  accessToken?: string;
  /**
   * Log in as `user` (an admin) on behalf of this mailbox owner: AUTHENTICATE PLAIN with an
   * authorization identity (RFC 4616 section 2), which LOGIN cannot carry.
   */
  authzid?: string;
  /** TCP and TLS handshake, and then the greeting, each. Default 30 s. */
  connectTimeoutMs?: number;
  /** Longest silence while a command waits for its answer. Default 2 min. */
  socketTimeoutMs?: number;
  /**
   * For sessions that wait in IDLE: `idle()` ends IDLE and issues it again this often, so no
   * IDLE outlives the server's inactivity timeout (RFC 2177 section 3: re-issue within 29 min).
   */
  maxIdleTimeMs?: number;
  /** Closes the connection when it fires; the pending call then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** imapflow's own log lines go to a child of this at `warn` and above; none without it. */
  logger?: Logger;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
const DEFAULT_SOCKET_TIMEOUT_MS = 120_000;

/**
 * `alice` → `alice*vmail`: Dovecot's master-user login (auth_master_user_separator `*`), which
 * authenticates as `masterUser` with the master password and opens `user`'s mailbox.
 */
export function masterUserLogin(user: string, masterUser: string): string {
  for (const [what, name] of [
    ['user', user],
    ['master user', masterUser],
  ] as const) {
    // A '*' in either name would move the split point: Dovecot would log in someone else.
    if (name === '' || name.includes('*')) {
      throw new InvalidPayloadError(
        `${what} name ${JSON.stringify(name)} cannot be used in a master-user login`,
      );
    }
  }
  return `${user}*${masterUser}`;
}

/** The imapflow options for `opts` (exported for tests of the mapping). */
export function imapFlowOptions(opts: ImapConnectOptions): ImapFlowOptions {
  const connectTimeout = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const pinned = opts.address !== undefined && opts.address !== opts.host;
  return {
    host: pinned ? opts.address : opts.host,
    ...(pinned && isIP(opts.host) === 0 ? { servername: opts.host } : {}),
    port: opts.port,
    // imapflow refuses secure together with doSTARTTLS; doSTARTTLS left undefined would mean
    // "upgrade if offered, else continue in cleartext", which we never want.
    secure: opts.security === 'tls',
    ...(opts.security === 'tls' ? {} : { doSTARTTLS: opts.security === 'starttls' }),
    tls: { rejectUnauthorized: opts.verifyCertificate },
    auth: opts.accessToken
      ? { user: opts.user, accessToken: opts.accessToken }
      : {
          user: opts.user,
          pass: opts.password ?? '',
          ...(opts.authzid ? { authzid: opts.authzid, loginMethod: 'AUTH=PLAIN' } : {}),
        },
    connectionTimeout: connectTimeout,
    greetingTimeout: connectTimeout,
    socketTimeout: opts.socketTimeoutMs ?? DEFAULT_SOCKET_TIMEOUT_MS,
    // Jobs send commands back to back and then log out: an IDLE in the gaps only adds round trips.
    disableAutoIdle: true,
    ...(opts.maxIdleTimeMs ? { maxIdleTime: opts.maxIdleTimeMs } : {}),
    clientInfo: { name: 'mailjobs' },
    // Without a logger imapflow writes its own pino lines to stdout; false silences it.
    logger: opts.logger
      ? opts.logger.child({ component: 'imap', host: opts.host }, { level: 'warn' })
      : false,
  };
}

/**
 * Connects and logs in. Rejects with `AuthenticationError` (credentials refused),
 * `ProtocolError` `ETLS` / `ECONNECTION` / `ETIMEOUT` / `EPROTOCOL`, or the signal's reason.
 * The caller ends the session with `logout()` (or `close()` after a failure).
 */
export async function connectImap(opts: ImapConnectOptions): Promise<ImapFlow> {
  opts.signal?.throwIfAborted();
  const client = new ImapFlow(imapFlowOptions(opts));
  const session = trackSession(client, { user: opts.user, signal: opts.signal });
  // After connect() imapflow reports connection failures as 'error' events (and fails the
  // command in flight with NoConnection); with no listener the event would crash the process.
  client.on('error', (err: Error) => {
    session.connectionError ??= err;
    opts.logger?.warn({ err, host: opts.host, user: opts.user }, 'IMAP connection failed');
  });
  const abort = (): void => client.close();
  opts.signal?.addEventListener('abort', abort, { once: true });
  client.once('close', () => opts.signal?.removeEventListener('abort', abort));
  try {
    await client.connect();
  } catch (err) {
    opts.signal?.removeEventListener('abort', abort);
    client.close();
    throw sessionError(client, err);
  }
  if (opts.security !== 'none' && !client.secureConnection) {
    // imapflow already refuses to log in without TLS when doSTARTTLS is true; checked again so
    // that a regression there fails loudly instead of fetching mail over cleartext.
    client.close();
    throw new ProtocolError(
      `IMAP ${opts.host}: ${opts.security} asked, but the session is not encrypted`,
      'ETLS',
    );
  }
  return client;
}
