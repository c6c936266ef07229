/** Where commands write, injectable so tests can run them in-process. */
import type { Logger } from '../core/logger.js';
import type { AnyJob } from '../jobs/types.js';

export interface CliDeps {
  jobs: readonly AnyJob[];
  log: Logger;
  out(text: string): void;
  err(text: string): void;
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
}
