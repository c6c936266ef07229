/**
 * How a sync ended, as one typed word (the dashboard's and the API's), and the errors that end
 * a run early. A run that cannot log in or negotiate TLS fails at once and is not retried; a
 * run that lost its connections more often than `imapsync.maxReconnects` fails and is retried
 * with backoff (what it copied so far stays recorded).
 */
import { AuthenticationError, PermanentJobError, ProtocolError } from '../../core/errors.js';

/** The typed end of a run, in the result (`ok`, `partial`, `quota_exceeded`) or its error (the rest). */
export type SyncOutcome =
  | 'ok'
  | 'auth_failed_source'
  | 'auth_failed_destination'
  | 'connection_failed'
  | 'tls_failed'
  | 'quota_exceeded'
  | 'partial';

/** Which end of the sync: the remote account (source) or the local mailbox (destination). */
export type Side = 'source' | 'destination';

/** A login refused on one side; never retried. */
export class SyncLoginError extends AuthenticationError {
  readonly outcome: 'auth_failed_source' | 'auth_failed_destination';
  constructor(side: Side, cause: Error) {
    const outcome = side === 'source' ? 'auth_failed_source' : 'auth_failed_destination';
    super(`${outcome}: ${cause.message}`);
    this.outcome = outcome;
    this.cause = cause;
  }
}

/** TLS could not be negotiated (certificate, handshake, STARTTLS missing); never retried. */
export class SyncTlsError extends PermanentJobError {
  readonly outcome = 'tls_failed' as const;
  constructor(side: Side, cause: Error) {
    super(`tls_failed: ${side}: ${cause.message}`, 'ETLS');
    this.cause = cause;
  }
}

/** The connection could not be (re)established: retried with backoff. */
export class SyncConnectionError extends ProtocolError {
  readonly outcome = 'connection_failed' as const;
  constructor(side: Side | undefined, cause: Error) {
    super(`connection_failed: ${side ? `${side}: ` : ''}${cause.message}`, 'ECONNECTION');
    this.cause = cause;
  }
}

/** True for failures a reconnect may cure: the connection dropped or went silent. */
export function isConnectionFailure(err: unknown): boolean {
  return err instanceof ProtocolError && (err.code === 'ECONNECTION' || err.code === 'ETIMEOUT');
}

/** Translates a failure to connect or log in on `side` into the run's typed error. */
export function sideFailure(side: Side, err: unknown): unknown {
  if (err instanceof SyncLoginError || err instanceof SyncTlsError || err instanceof SyncConnectionError)
    return err;
  if (err instanceof AuthenticationError) return new SyncLoginError(side, err);
  if (err instanceof ProtocolError && err.code === 'ETLS') return new SyncTlsError(side, err);
  if (isConnectionFailure(err)) return new SyncConnectionError(side, err as Error);
  return err;
}

/** The outcome a thrown error stands for, when it stands for one. */
export function outcomeOf(err: unknown): SyncOutcome | undefined {
  if (err instanceof SyncLoginError || err instanceof SyncTlsError || err instanceof SyncConnectionError)
    return err.outcome;
  return undefined;
}

/**
 * A folder pass would delete more than the task's `deleteLimit` allows (a source emptied by
 * mistake, a wrong folder mapping): nothing is deleted in that folder, the run stops and fails
 * without retries, naming the folder and the counts.
 */
export class DeleteLimitError extends PermanentJobError {
  constructor(message: string) {
    super(message, 'EDELETELIMIT');
  }
}
