/**
 * imapflow's failures, translated into our typed errors so a job can tell "retry later" from
 * "the credentials are wrong" by class and `code`, never by message text.
 *
 * imapflow 2.x reports failures in three shapes: a refused command is a plain `Error` with
 * `responseStatus` ('NO'/'BAD'), `serverResponseCode` and `responseText` (a refused login adds
 * `authenticationFailed: true`; the `AuthenticationFailure` class is only thrown for local
 * problems such as no password configured); socket and TLS failures pass through with Node's
 * own `code` (`ECONNREFUSED`, `DEPTH_ZERO_SELF_SIGNED_CERT`, `ERR_SSL_*`), STARTTLS failures
 * marked `tlsFailed: true`; and its own conditions carry an imapflow `code` (`CONNECT_TIMEOUT`,
 * `NoConnection`, `ParserError7`, ...).
 */
import type { ImapFlow, ImapFlowError } from 'imapflow';
import { AuthenticationError, PermanentJobError, ProtocolError, ThrottledError } from '../core/errors.js';
import {
  UNNAMED_BACKOFF_MS,
  dailyLimitError,
  isDailyLimit,
  isUnnamedThrottle,
  suggestedBackoffMs,
} from './provider-limits.js';
import { tlsFailure } from './tls.js';

/** What the messages name: the server and, for login failures, the user (never the password). */
export interface ImapErrorContext {
  host: string;
  user?: string;
}

const TIMEOUT_CODES = new Set([
  'CONNECT_TIMEOUT',
  'GREETING_TIMEOUT',
  'UPGRADE_TIMEOUT',
  'ETIMEOUT',
  'ETIMEDOUT',
]);

const CONNECTION_CODES = new Set([
  // Node's socket and DNS errors
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  // imapflow: the connection went away (server BYE, socket closed), or the proxy failed
  'NoConnection',
  'EConnectionClosed',
  'ClosedAfterConnectText',
  'ClosedAfterConnectTLS',
  'StateLogout',
  'EPROXY',
  'ProxyError',
]);

/**
 * RFC 5530 response codes after which the same login may work later: the server could not
 * check the password (UNAVAILABLE, SERVERBUG), or refuses more sessions for now (LIMIT, INUSE).
 * Every other refusal is about the credentials (AUTHENTICATIONFAILED, AUTHORIZATIONFAILED,
 * EXPIRED, PRIVACYREQUIRED, CONTACTADMIN, or no code at all) and is not retried.
 */
const TEMPORARY_LOGIN_CODES = new Set(['UNAVAILABLE', 'SERVERBUG', 'LIMIT', 'INUSE']);

/** Node's TLS failures ({@link tlsFailure}), and imapflow's own: STARTTLS missing or attacked. */
function isTlsFailure(e: ImapFlowError, code: string): boolean {
  return e.tlsFailed === true || code === 'STARTTLS_INJECTION' || tlsFailure(e) !== undefined;
}

/**
 * The response code (RFC 5530) of a refusal: imapflow names it for some commands only
 * (`serverResponseCode`); for the others (FETCH) it is read from the parsed answer.
 */
function responseCode(e: ImapFlowError): string | undefined {
  if (e.serverResponseCode) return e.serverResponseCode;
  const parsed = e.response as { attributes?: { section?: { value?: unknown }[] }[] } | string | undefined;
  const value = typeof parsed === 'object' ? parsed?.attributes?.[0]?.section?.[0]?.value : undefined;
  return typeof value === 'string' ? value.toUpperCase().trim() : undefined;
}

/** The server's words, `[CODE] text`, cut short: a server's text is not ours to log in full. */
function serverSaid(e: ImapFlowError): string {
  const text = (e.responseText ?? (typeof e.response === 'string' ? e.response : '')).trim();
  const rc = responseCode(e);
  const code = rc && !text.startsWith('[') ? `[${rc}] ` : '';
  const said = `${code}${text}`.trim() || e.message;
  return said.length > 300 ? `${said.slice(0, 300)}...` : said;
}

function withCause<E extends Error>(error: E, cause: unknown): E {
  error.cause = cause;
  return error;
}

/**
 * Translates anything imapflow (or the socket under it) throws into our types:
 * - a refused login → {@link AuthenticationError} naming user and host (never retried), unless
 *   the server says it is temporary (RFC 5530 `UNAVAILABLE`...) → `ProtocolError('EPROTOCOL')`;
 * - timeouts (connect, greeting, STARTTLS upgrade, socket inactivity) → `ETIMEOUT`;
 * - certificate and handshake failures, STARTTLS required but not offered → `ETLS`;
 * - refused, reset or lost connections, DNS failures → `ECONNECTION`;
 * - commands the server refused (NO/BAD) and responses imapflow could not parse → `EPROTOCOL`.
 *
 * Our own typed errors, aborts (`AbortError`) and anything unrecognised (a bug, not a protocol
 * problem: disguising it as retryable would hide it) come back unchanged. New errors keep the
 * original as `cause`.
 */
export function classifyImapError(err: unknown, { host, user }: ImapErrorContext): Error {
  if (!(err instanceof Error)) return new Error(`IMAP ${host}: non-error thrown: ${String(err)}`);
  if (err instanceof PermanentJobError || err instanceof ProtocolError || err.name === 'AbortError')
    return err;
  const e = err as ImapFlowError;
  const code = typeof e.code === 'string' ? e.code : '';
  const who = user === undefined ? host : `${user} at ${host}`;

  if (e.responseStatus === 'NO' || e.responseStatus === 'BAD' || e.authenticationFailed === true) {
    const said = serverSaid(e);
    const wait = suggestedBackoffMs(said);
    if (wait !== undefined)
      return withCause(new ThrottledError(`IMAP ${who}: throttled: ${said}`, wait), err);
    if (isDailyLimit(e.serverResponseCode, said, e.authenticationFailed === true)) {
      return withCause(dailyLimitError(`IMAP ${who}`, said), err);
    }
    if (isUnnamedThrottle(responseCode(e))) {
      const throttled = new ThrottledError(
        `IMAP ${who}: throttled: ${said}`,
        UNNAMED_BACKOFF_MS,
        false,
        true,
      );
      return withCause(throttled, err);
    }
  }

  if (e.authenticationFailed === true) {
    const said = serverSaid(e);
    if (e.serverResponseCode && TEMPORARY_LOGIN_CODES.has(e.serverResponseCode.toUpperCase())) {
      return withCause(new ProtocolError(`IMAP login as ${who} failed for now: ${said}`, 'EPROTOCOL'), err);
    }
    return withCause(new AuthenticationError(`IMAP login as ${who} refused: ${said}`), err);
  }
  if (TIMEOUT_CODES.has(code)) {
    return withCause(new ProtocolError(`IMAP ${host}: ${e.message} (${code})`, 'ETIMEOUT'), err);
  }
  if (isTlsFailure(e, code)) {
    const reason = code ? `${e.message} (${code})` : e.message;
    return withCause(new ProtocolError(`IMAP ${host}: TLS failed: ${reason}`, 'ETLS'), err);
  }
  if (CONNECTION_CODES.has(code)) {
    const why = e.reason ? `: server said "${e.reason}"` : '';
    return withCause(new ProtocolError(`IMAP ${host}: ${e.message} (${code})${why}`, 'ECONNECTION'), err);
  }
  if (e.responseStatus === 'NO' || e.responseStatus === 'BAD') {
    const command = e.command ?? e.executedCommand?.split(' ').slice(1, 3).join(' ') ?? 'command';
    const message = `IMAP ${host}: ${command} refused: ${e.responseStatus} ${serverSaid(e)}`;
    return withCause(new ProtocolError(message, 'EPROTOCOL'), err);
  }
  if (code) {
    // imapflow's own protocol conditions: ParserError*, LineTooLarge, DownloadIncomplete, ETHROTTLE...
    return withCause(new ProtocolError(`IMAP ${host}: ${e.message} (${code})`, 'EPROTOCOL'), err);
  }
  return err;
}

interface SessionInfo {
  user?: string;
  signal?: AbortSignal;
  /** The first error imapflow emitted on the connection (socket timeout, reset, parser failure). */
  connectionError?: Error;
}

const sessions = new WeakMap<ImapFlow, SessionInfo>();

/** @internal Records what {@link imapStep} needs to explain a failure of this connection. */
export function trackSession(client: ImapFlow, info: SessionInfo): SessionInfo {
  sessions.set(client, info);
  return info;
}

/** @internal The error a failed step of `client` should throw (classified, or the abort reason). */
export function sessionError(client: ImapFlow, err: unknown): Error {
  const session = sessions.get(client);
  if (session?.signal?.aborted) {
    const reason: unknown = session.signal.reason;
    return reason instanceof Error ? reason : new Error(String(reason));
  }
  // After a socket timeout or reset imapflow emits the real error as an 'error' event and
  // rejects the command in flight with a bare NoConnection: report the real one.
  const code = (err as ImapFlowError | undefined)?.code;
  const real = code === 'NoConnection' && session?.connectionError ? session.connectionError : err;
  return classifyImapError(real, { host: client.host, user: session?.user ?? client.options.auth?.user });
}

/**
 * @internal Runs one IMAP step of `client`; a failure is thrown classified
 * ({@link classifyImapError}), or as the abort reason once the connection's signal fired.
 */
export async function imapStep<T>(client: ImapFlow, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    throw sessionError(client, err);
  }
}

/**
 * @internal For imapflow methods that report a refusal as `false` instead of throwing: the
 * connection's own error if it is gone, otherwise `EPROTOCOL` naming what was refused.
 */
export function refused(client: ImapFlow, what: string): Error {
  if (!client.usable) {
    const gone = Object.assign(new Error('Connection not available'), { code: 'NoConnection' });
    return sessionError(client, gone);
  }
  return new ProtocolError(`IMAP ${client.host}: ${what} refused by the server`, 'EPROTOCOL');
}
