/**
 * What every command needs: the config, the Redis in use, a state connection, the queues.
 * Opened once per process; `close()` tries every step even when one fails.
 */
import type { Queue } from 'bullmq';
import { configPath, loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import type { Logger } from './core/logger.js';
import {
  checkRedisLogin,
  connectRedis,
  describeRedis,
  durabilityWarnings,
  isUnreachable,
  openAccessWarning,
  resolveRedis,
  stateKey,
  type RedisSettings,
  type RedisClient,
} from './core/redis.js';
import { RedisOutageLog } from './core/redis-outage.js';
import { RedisUnreachableError } from './core/errors.js';
import type { AnyJob } from './jobs/types.js';

export interface Runtime {
  readonly configFile: string;
  config: Config;
  /** The Redis in use and how to log in: every further connection is opened with these. */
  readonly redisSettings: RedisSettings;
  /** For state, locks and short commands (not for BullMQ's blocking calls). */
  readonly redis: RedisClient;
  readonly jobs: readonly AnyJob[];
  readonly queues: Map<string, Queue>;
  readonly log: Logger;
  /** Every connection's errors go here: one log line per Redis outage. */
  readonly outage: RedisOutageLog;
  key(...parts: string[]): string;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  configFlag?: string;
  jobs: readonly AnyJob[];
  log: Logger;
  /** Start a private redis-server when none is configured or answers (start, worker, scheduler, run). */
  startPrivateRedis: boolean;
}

/** The runtime this process opened last (a command opens one), for {@link redisLost}. */
let opened: Runtime | undefined;

/**
 * `err` as a {@link RedisUnreachableError} naming the Redis and the cause when Redis went away
 * while a command worked (after the start-up check: the CLI's exit 3 all the same), else
 * undefined. Gone means a connection error, or any error while the runtime's connections report
 * an outage (ioredis then fails commands with "max retries" or "Connection is closed").
 */
export function redisLost(err: unknown): RedisUnreachableError | undefined {
  if (err instanceof RedisUnreachableError) return err;
  if (!opened || !(err instanceof Error)) return undefined;
  if (!isUnreachable(err) && !opened.outage.down) return undefined;
  return new RedisUnreachableError(`Redis at ${describeRedis(opened.redisSettings)}: ${err.message}`);
}

export async function openRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const configFile = configPath(opts.configFlag);
  const config = loadConfig(configFile);
  const redisSettings = await resolveRedis(config.redis, opts.log, {
    startPrivate: opts.startPrivateRedis,
  });
  const redis = connectRedis(redisSettings);
  try {
    await checkRedisLogin(redis, redisSettings);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  const outage = new RedisOutageLog(opts.log, describeRedis(redisSettings));
  outage.watchState(redis);
  // BullMQ is loaded only when queues are wanted: `mailjobs run` needs none (a faster cold start).
  const queueModule = opts.jobs.length > 0 ? await import('./core/queues.js') : undefined;
  const queues =
    queueModule?.openQueues(opts.jobs, redisSettings, config.redis.prefix) ?? new Map<string, Queue>();
  for (const [name, queue] of queues) outage.watch(queue, name);
  const runtime: Runtime = {
    configFile,
    config,
    redisSettings,
    redis,
    jobs: opts.jobs,
    queues,
    log: opts.log,
    outage,
    key: (...parts) => stateKey(runtime.config.redis.prefix, ...parts),
    async close() {
      await queueModule?.closeQueues(queues);
      await redis.quit().catch(() => redis.disconnect());
    },
  };
  opened = runtime;
  return runtime;
}

/** Logs where Redis is and warns when it may lose jobs or lets anyone in. */
export async function announceRedis(rt: Runtime): Promise<void> {
  rt.log.info(
    { redis: describeRedis(rt.redisSettings), prefix: rt.config.redis.prefix, config: rt.configFile },
    'using redis',
  );
  for (const w of await redisWarnings(rt)) rt.log.warn(w);
}

/** What may lose jobs or let anyone in, for start-up and `status`. */
export async function redisWarnings(rt: Runtime): Promise<string[]> {
  const open = await openAccessWarning(rt.redisSettings);
  return [...(open ? [open] : []), ...(await durabilityWarnings(rt.redis))];
}
