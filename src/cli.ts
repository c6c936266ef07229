#!/usr/bin/env node
/**
 * Entry point of the `mailjobs` command. Expected errors print as plain lines, not stacks.
 * Jobs come from the catalog: a command loads only the job modules it needs.
 */
import { main } from './cli/main.js';
import { EXIT_REDIS_UNREACHABLE, EXIT_USAGE, UsageError } from './cli/io.js';
import { logger } from './core/logger.js';

const deps = {
  jobs: async () => (await import('./jobs/catalog.js')).catalog,
  log: logger,
  out: (text: string) => process.stdout.write(`${text}\n`),
  err: (text: string) => process.stderr.write(`${text}\n`),
  tty: process.stdout.isTTY === true,
};

try {
  process.exitCode = await main(process.argv.slice(2), deps);
} catch (err) {
  const { ConfigError, PermanentJobError } = await import('./core/errors.js');
  const lost = (await import('./runtime.js')).redisLost(err);
  if (lost) {
    deps.err(`mailjobs: ${lost.message}`);
    process.exitCode = EXIT_REDIS_UNREACHABLE;
  } else if (err instanceof ConfigError || err instanceof UsageError || err instanceof PermanentJobError) {
    deps.err(`mailjobs: ${err.message}`);
    process.exitCode = EXIT_USAGE;
  } else {
    deps.err(`mailjobs: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  }
}
