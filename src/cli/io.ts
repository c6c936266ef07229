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
}

/**
 * What `main` gets: jobs loaded, or catalog entries it loads as far as the command needs (or a
 * function importing them, so `--help` imports no job code at all).
 */
export interface CliInput extends Omit<CliDeps, 'jobs'> {
  jobs: readonly JobSource[] | (() => Promise<readonly JobSource[]>);
}

/**
 * Exit codes of `run` and `enqueue --wait` (the README's table): 0 the job ran and succeeded,
 * 1 it failed, 2 a mistake on the command line or in the config, 75 (sysexits' EX_TEMPFAIL)
 * its target is busy with another live job: try again later.
 */
export const EXIT_FAILED = 1;
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
}
