/** Where commands write, injectable so tests can run them in-process. */
import type { Logger } from '../core/logger.js';
import type { JobSource } from '../jobs/catalog.js';
import type { AnyJob } from '../jobs/types.js';

/** What a command gets: the definitions of the jobs it needs (see `main`), a logger, output. */
export interface CliDeps {
  jobs: readonly AnyJob[];
  log: Logger;
  out(text: string): void;
  err(text: string): void;
  /** True when `out` is a terminal: times read relative and local there, exact elsewhere. */
  tty?: boolean;
}

/**
 * What `main` gets: jobs loaded, or catalog entries it loads as far as the command needs (or a
 * function importing them, so `--help` imports no job code at all).
 */
export interface CliInput extends Omit<CliDeps, 'jobs'> {
  jobs: readonly JobSource[] | (() => Promise<readonly JobSource[]>);
}

/**
 * Exit codes of every command (the README's table): 0 done, 1 the job failed, 2 a mistake on
 * the command line or in the config, 3 Redis unreachable (at start-up, for a long-running
 * role), 75 (sysexits' EX_TEMPFAIL) the job's target is busy with another live job: try later.
 */
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_REDIS_UNREACHABLE = 3;
export const EXIT_BUSY = 75;

/** A mistake on the command line: printed as one line, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
  }
}

/** The parsed command line common to every command. */
export interface CliArgs {
  positionals: string[];
  config?: string;
  wait: boolean;
  json: boolean;
  timeoutSeconds: number;
  /** `enqueue learn`: spam or ham, and whose move it was. */
  class?: string;
  user?: string;
  /** `dashboard add-user`: admin or viewer. */
  role?: string;
  /** `seal`: the login the secret is sealed for (with `user`). */
  host?: string;
  port?: string;
  field?: string;
  /** `oauth login`: import this refresh token instead of a device login. */
  refreshTokenFile?: string;
  /** `bayes bootstrap`: whose mailboxes (comma-separated), at most how many per class, or only count. */
  users?: string;
  max?: string;
  dryRun: boolean;
  /** `quarantine list`: only messages matching this; `quarantine release`: learn it as ham too. */
  search?: string;
  learnHam: boolean;
  /** `status --sync`: the imapsync fleet, `--filter`ed; `sync start --failed`: retry the failed. */
  sync?: boolean;
  filter?: string;
  failed?: boolean;
}
