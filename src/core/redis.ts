/**
 * Redis: which server to use, connections for queues and state, key names, and the
 * start-up checks. When nothing is configured and nothing answers on the default address,
 * `mailjobs start` runs a private `redis-server` with its data under ./var/redis.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ConnectionOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { ConfigError } from './errors.js';
import type { Logger } from './logger.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
/** Where a private Redis keeps its data, socket and log (relative to the working directory). */
export const PRIVATE_REDIS_DIR = './var/redis';

/** ioredis options from a `redis://`, `rediss://` or `unix:/path` URL. */
export function redisOptions(url: string): RedisOptions {
  if (url.startsWith('unix:')) return { path: url.slice('unix:'.length) };
  const u = new URL(url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    db,
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/**
 * BullMQ connection options. Workers need `maxRetriesPerRequest: null` for their blocking
 * commands; producers fail fast instead.
 */
export function bullConnection(url: string, opts: { blocking: boolean }): ConnectionOptions {
  return { ...redisOptions(url), maxRetriesPerRequest: opts.blocking ? null : 2 } as ConnectionOptions;
}

/** The URL with any password masked, for logs and `status`. */
export function displayUrl(url: string): string {
  if (url.startsWith('unix:')) return url;
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/**
 * A connection. `blocking: true` is what BullMQ workers need (no per-request retry limit);
 * producers and state readers fail fast instead of queueing commands while Redis is away.
 */
export function connectRedis(url: string, opts: { blocking?: boolean } = {}): Redis {
  return new Redis({
    ...redisOptions(url),
    lazyConnect: false,
    ...(opts.blocking
      ? { maxRetriesPerRequest: null }
      : { maxRetriesPerRequest: 2, enableOfflineQueue: true }),
  });
}

/** PING with a short timeout; true when a Redis answers at `url`. */
export async function redisAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  const r = new Redis({
    ...redisOptions(url),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

function startPrivateRedis(dir: string, log: Logger): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const socket = resolve(dir, 'redis.sock');
  const args = [
    '--daemonize', 'yes',
    '--port', '0',
    '--unixsocket', socket,
    '--unixsocketperm', '700',
    '--dir', dir,
    '--appendonly', 'yes',
    '--pidfile', resolve(dir, 'redis.pid'),
    '--logfile', resolve(dir, 'redis.log'),
  ]; // prettier-ignore
  const run = spawnSync('redis-server', args, { stdio: 'pipe' });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new ConfigError(
      'no Redis is configured or answers, and redis-server is not installed: ' +
        'install it (Debian: apt-get install redis-server) or set REDIS_URL / redis.url in the config',
    );
  }
  if (run.status !== 0) {
    throw new ConfigError(`redis-server failed to start (see ${resolve(dir, 'redis.log')}): ${run.stderr}`);
  }
  log.info(
    { dir, socket },
    'started a private redis-server (append-only persistence on); it keeps running after mailjobs stops',
  );
  return `unix:${socket}`;
}

/**
 * Decides which Redis to use: the configured URL (config or REDIS_URL), else the default
 * address if it answers, else a private instance already running under ./var/redis, else
 * (when `startPrivate`) a new private instance.
 */
export async function resolveRedisUrl(
  configured: string | undefined,
  log: Logger,
  opts: { startPrivate: boolean; defaultUrl?: string; privateDir?: string },
): Promise<string> {
  if (configured) return configured;
  const defaultUrl = opts.defaultUrl ?? DEFAULT_REDIS_URL;
  const dir = resolve(opts.privateDir ?? PRIVATE_REDIS_DIR);
  if (await redisAnswers(defaultUrl)) return defaultUrl;
  const privateUrl = `unix:${resolve(dir, 'redis.sock')}`;
  if (existsSync(privateUrl.slice(5)) && (await redisAnswers(privateUrl))) return privateUrl;
  if (!opts.startPrivate) {
    throw new ConfigError(
      `no Redis answers at ${defaultUrl} nor in ${dir}: run "mailjobs start" first, or set REDIS_URL`,
    );
  }
  const url = startPrivateRedis(dir, log);
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers(url, 200)) return url;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new ConfigError(`the private redis-server did not answer on ${url} (see ${dir}/redis.log)`);
}

/** Warnings about a Redis that may lose jobs: no persistence, or keys evicted under memory pressure. */
export async function durabilityWarnings(redis: Redis): Promise<string[]> {
  const get = async (name: string): Promise<string | undefined> => {
    try {
      const reply = (await redis.config('GET', name)) as string[];
      return reply[1];
    } catch {
      return undefined; // CONFIG may be disabled (managed Redis): nothing to say then
    }
  };
  const [aof, save, policy] = await Promise.all([get('appendonly'), get('save'), get('maxmemory-policy')]);
  const warnings: string[] = [];
  if (aof === 'no' && save === '') {
    warnings.push(
      'Redis has no persistence (appendonly no, save ""): a restart loses queued jobs and fetch checkpoints',
    );
  }
  if (policy !== undefined && policy !== 'noeviction') {
    warnings.push(
      `Redis maxmemory-policy is "${policy}": it may evict job and checkpoint keys; use noeviction`,
    );
  }
  return warnings;
}

/** BullMQ's key prefix: braces keep every key of a queue in one Redis Cluster hash slot. */
export function queuePrefix(prefix: string): string {
  return `{${prefix}}`;
}

/** A key for mailjobs' own state (checkpoints, locks, time series), in the same hash slot. */
export function stateKey(prefix: string, ...parts: string[]): string {
  return [queuePrefix(prefix), 'state', ...parts].join(':');
}
