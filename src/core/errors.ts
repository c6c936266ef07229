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
 * A protocol-level failure with a machine code (`ETIMEOUT`, `ECONNECTION`, `ETLS`, `EPROTOCOL`)
 * and, for SMTP/LMTP replies, the numeric `responseCode`. Transient ones are retried by BullMQ.
 */
export class ProtocolError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly responseCode?: number,
  ) {
    super(message);
    this.name = this.constructor.name;
  }
}
