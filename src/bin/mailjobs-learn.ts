#!/usr/bin/env node
/**
 * `mailjobs-learn`: a light Node producer of bayes-learn jobs, for scripts and programs that
 * pipe a message (Dovecot itself pipes into the sh spooler of contrib/dovecot/, which fits its
 * process limits; see docs/design-notes.md). Kept apart from the `mailjobs` command, which loads
 * every job: it loads only Node built-ins and the YAML parser, spools the message, starts a
 * detached flusher (which loads BullMQ and queues the spool) and exits 0, whatever happened.
 *
 *   mailjobs-learn --class spam|ham --user USER [--config FILE]  < message
 *   mailjobs-learn --flush [--config FILE]     queue what is spooled (exit 1 if some is left)
 */
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { learnFromPipe } from '../jobs/bayes-learn/pipe.js';
import { pipeConfigPath, type PipeSettings } from '../jobs/bayes-learn/pipe-settings.js';
import type { SpooledLearn } from '../jobs/bayes-learn/spool.js';
import { flusherPid } from '../jobs/bayes-learn/spool.js';

const USAGE = `usage: mailjobs-learn --class spam|ham --user USER [--config FILE] < message
       mailjobs-learn --flush [--config FILE]`;

const stderr = (line: string): void => void process.stderr.write(`${line}\n`);

/** The pipe's Redis connection, loaded only when there is something to queue. */
async function connect(settings: PipeSettings) {
  const { connectPipeRedis } = await import('../jobs/bayes-learn/pipe-redis.js');
  return connectPipeRedis(settings);
}

/** `--flush`: queue the spool in the foreground; 0 when it is empty afterwards. */
async function flush(configFile: string, background: boolean): Promise<number> {
  const { readPipeSettings } = await import('../jobs/bayes-learn/pipe-settings.js');
  const { flushSpool } = await import('../jobs/bayes-learn/flush.js');
  const settings = readPipeSettings(configFile);
  const redis = await connect(settings);
  try {
    // A background flusher has no stderr (Dovecot stopped listening): its log file, if any.
    const warn = !background
      ? stderr
      : (line: string) => {
          try {
            if (settings.logFile)
              appendFileSync(settings.logFile, `${new Date().toISOString()} flush: ${line}\n`);
          } catch {
            // nowhere left to say it; the files stay spooled and `mailjobs status` shows them
          }
        };
    const r = await flushSpool(settings.spoolDir, {
      redis,
      prefix: settings.prefix,
      maxMessageBytes: settings.maxMessageBytes,
      warn,
    });
    if (!background) process.stdout.write(`${JSON.stringify(r)}\n`);
    return r.left === 0 && !r.error ? 0 : 1;
  } finally {
    redis.disconnect();
  }
}

/** Starts a detached flusher unless a live one holds the spool (it will see our file). */
async function startFlusher(settings: PipeSettings): Promise<void> {
  if (await flusherPid(settings.spoolDir)) return;
  const args = [
    ...process.execArgv,
    process.argv[1]!,
    '--flush',
    '--background',
    '--config',
    settings.configFile,
  ];
  const child = spawn(process.execPath, args, { detached: true, stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve).once('error', reject);
  });
  child.unref();
}

async function queueDirect(settings: PipeSettings, entry: SpooledLearn): Promise<void> {
  const { queueSpooled } = await import('../jobs/bayes-learn/flush.js');
  const redis = await connect(settings);
  try {
    await queueSpooled(entry, { redis, prefix: settings.prefix });
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        class: { type: 'string' },
        user: { type: 'string' },
        config: { type: 'string' },
        flush: { type: 'boolean', default: false },
        background: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    stderr(`mailjobs-learn: ${(err as Error).message}\n${USAGE}`);
    return 0; // never fail the user's move, even when Dovecot's call is wrong (logged)
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const configFile = pipeConfigPath(values.config, process.env);
  if (values.flush) return flush(configFile, values.background ?? false);
  await learnFromPipe(
    { class: values.class, user: values.user, configFile },
    { stdin: process.stdin, env: process.env, stderr, afterSpool: startFlusher, queueDirect },
  );
  return 0;
}

try {
  process.exitCode = await main();
} catch (err) {
  stderr(`mailjobs-learn: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = process.argv.includes('--flush') ? 1 : 0;
}
