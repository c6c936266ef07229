/** Test helpers for the runtime: a config for a private Redis, a silent logger, a CLI harness. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueEvents } from 'bullmq';
import { pino, type Logger } from 'pino';
import {
  bullConnection,
  queuePrefix,
  type RedisClient,
  type RedisSettings,
  type RedisTarget,
} from '../../src/core/redis.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { main } from '../../src/cli/main.js';
import type { AnyJob } from '../../src/jobs/types.js';
import { startWorkers, type WorkerSet } from '../../src/worker/workers.js';

export const silentLog = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** A fresh queue prefix per test: tests isolate by name, never by wiping Redis. */
export function freshPrefix(): string {
  return `t${randomBytes(4).toString('hex')}`;
}

/**
 * Writes a config file for `redisUrl` and `prefix` (plus extra YAML, and `redisMore` inside the
 * `redis:` mapping, e.g. `username: mj`) and returns its path.
 */
export function writeConfig(redisUrl: string, prefix: string, extra = '', redisMore = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailjobs-config-'));
  const file = join(dir, 'mailjobs.yaml');
  const more = redisMore ? `, ${redisMore}` : '';
  writeFileSync(
    file,
    `redis: { url: "${redisUrl}", prefix: ${prefix}${more} }\nworkers: { lockDurationSeconds: 5 }\n${extra}`,
  );
  return file;
}

export function configFor(redisUrl: string, prefix: string, extra = ''): Config {
  return loadConfig(writeConfig(redisUrl, prefix, extra), {});
}

/** Runs the CLI in-process with `jobs`; returns exit code and what it printed. */
export async function runCli(argv: string[], jobs: readonly AnyJob[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { jobs, log: silentLog, out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/**
 * QueueEvents for `queue`, listening before it returns: events of jobs that finish before the
 * stream is read would otherwise be missed and `waitUntilFinished` would time out.
 */
export async function openEvents(queue: string, redisUrl: RedisTarget, prefix: string): Promise<QueueEvents> {
  const events = new QueueEvents(queue, {
    connection: bullConnection(redisUrl, { blocking: true }),
    prefix: queuePrefix(prefix),
  });
  await events.waitUntilReady();
  return events;
}

/** What workers need from a runtime: a `Runtime`, a job client, or these three by hand. */
export interface WorkerHost {
  readonly config: Config;
  readonly redisSettings: RedisSettings;
  readonly redis: RedisClient;
}

/**
 * Workers for `jobs` on `host`'s Redis. `host.config` is read for every job (as `mailjobs start`
 * does), so a test that reloads the runtime's config sees the next job use it.
 */
export function startTestWorkers(
  host: WorkerHost,
  jobs: readonly AnyJob[],
  log: Logger = silentLog,
): WorkerSet {
  return startWorkers({
    jobs,
    config: () => host.config,
    redisSettings: host.redisSettings,
    redis: host.redis,
    log,
  });
}
