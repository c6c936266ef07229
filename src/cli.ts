#!/usr/bin/env node
/** Entry point of the `mailjobs` command. Expected errors print as plain lines, not stacks. */
import { main } from './cli/main.js';
import { UsageError } from './cli/jobs.js';
import { ConfigError, PermanentJobError } from './core/errors.js';
import { logger } from './core/logger.js';
import { registry } from './jobs/registry.js';

const deps = {
  jobs: registry,
  log: logger,
  out: (text: string) => process.stdout.write(`${text}\n`),
  err: (text: string) => process.stderr.write(`${text}\n`),
};

try {
  process.exitCode = await main(process.argv.slice(2), deps);
} catch (err) {
  if (err instanceof ConfigError || err instanceof UsageError || err instanceof PermanentJobError) {
    deps.err(`mailjobs: ${err.message}`);
    process.exitCode = 2;
  } else {
    deps.err(`mailjobs: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  }
}
