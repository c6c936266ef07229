/**
 * Typed errors. Match them with `instanceof` or `code`, never with message text.
 * Each class sets `name` so logs and BullMQ's `failedReason` say what happened.
 * No BullMQ here, so `mailjobs run` and the processors load none (a faster cold start).
 */

/**
 * Base class for errors that a retry cannot fix (bad payload, bad config, wrong password).
 * The worker hands them to BullMQ as its `UnrecoverableError` (worker/workers.ts): no retry.
 */
export class PermanentJobError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = this.constructor.name;
  }
}

/** A job payload that does not match its schema; the message names the field. */
export class InvalidPayloadError extends PermanentJobError {
  constructor(message: string) {
    super(message, 'EPAYLOAD');
  }
}

/**
 * A protocol adapter was handed a value it cannot use (a port of 0, a message number of -1): a
 * bug or an unchecked value, which no retry fixes. Not a `TypeError`, which BullMQ would retry.
 */
export class InvalidArgumentError extends PermanentJobError {
  constructor(message: string) {
    super(message, 'EINVAL');
  }
}

/**
 * A payload naming an account or task the config does not have (`code`: ENOCONNECTOR, ENOTASK):
 * refused when enqueued (CLI, dashboard), failed without retry when processed.
 */
export class NotInConfigError extends PermanentJobError {}

/** A remote or local server refused our credentials. Never retried: no retry storm. */
export class AuthenticationError extends PermanentJobError {
  constructor(message: string) {
    super(message, 'EAUTH');
  }
}

/** The configuration (file or secret) is wrong; the message names the file and field. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly file?: string,
  ) {
    super(message);
    this.name = this.constructor.name;
  }
}

/**
 * Redis cannot be reached (refused, unknown host, no answer in time): exit 3 for the CLI. A
 * refused login is a `ConfigError` instead: the config must change, waiting will not help.
 */
export class RedisUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
  }
}

/**
 * A protocol-level failure with a machine code (`ETIMEOUT`, `ECONNECTION`, `ETLS`, `EPROTOCOL`)
 * and, for SMTP/LMTP replies, the numeric `responseCode` and the RFC 3463 `enhancedCode`
 * (e.g. `5.2.2`, mailbox full). Transient ones are retried by BullMQ.
 */
export class ProtocolError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly responseCode?: number,
    readonly enhancedCode?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = this.constructor.name;
  }
}

/**
 * The server asked us to come back later, and said when (Microsoft 365: `Request is throttled.
 * Suggested Backoff Time: N milliseconds`), or the account's daily budget is spent
 * (`dailyLimit`: until the next day): the worker retries the job after that time without
 * spending an attempt (worker/workers.ts); it is not a failure.
 */
export class ThrottledError extends ProtocolError {
  constructor(
    message: string,
    readonly retryAfterMs: number,
    readonly dailyLimit = false,
    /** The server named no time: `retryAfterMs` is our guess, which a job may replace. */
    readonly guessedWait = false,
  ) {
    super(message, 'ETHROTTLE');
  }
}

/**
 * A run that did not start and waits, without spending an attempt: no free slot under a cap
 * (imapsync's `maxRunning`, the remote host's session cap), or its remote host is paused after
 * a throttling answer. Whoever decided to wait logged it already; the worker only delays the
 * job (debug), and the run record shows it waiting, not failed.
 */
export class DeferredRunError extends ThrottledError {}

/**
 * A failure that belongs to one message, not to the server or the path: an envelope refused
 * (by the server or by our own client), a 5xx for that message, a scanner that errors on that
 * message while it answers others. The job settles that message (counted, left on the server)
 * and goes on; anything else stops the run. `code` is the underlying error's code.
 */
export class MessageError extends Error {
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = this.constructor.name;
  }
}
