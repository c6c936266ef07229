/**
 * Redis: which server to use, connections for queues and state, key names, and the
 * start-up checks. When nothing is configured and nothing answers on the default address,
 * `mailjobs start` runs a private `redis-server` with its data under ./var/redis: on a unix
 * socket only, with a generated password in ./var/redis/password (mode 0600). Connection
 * options come from redis-settings.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { ConnectionOptions } from 'bullmq';
import { Cluster, Redis, ReplyError } from 'ioredis';
import { Secret } from '../config/secret.js';
import { ConfigError, RedisUnreachableError } from './errors.js';
import type { Logger } from './logger.js';
import {
  clusterOptions,
  DEFAULT_REDIS_URL,
  describeRedis,
  REDIS_CHECK_TIMEOUT_MS,
  redisOptions,
  toSettings,
  withoutCredentials,
  type RedisSettings,
  type RedisTarget,
} from './redis-settings.js';

export {
  DEFAULT_REDIS_URL,
  describeRedis,
  displayUrl,
  REDIS_CHECK_TIMEOUT_MS,
  redisOptions,
  type RedisSettings,
  type RedisTarget,
} from './redis-settings.js';

/** Where a private Redis keeps its data, socket, password and log (relative to the working directory). */
export const PRIVATE_REDIS_DIR = './var/redis';

/** A connection to one server (also through Sentinel) or to a Cluster: the same commands. */
export type RedisClient = Redis | Cluster;

/** How a connection copes with Redis being away. */
export interface ConnectOptions {
  /** What BullMQ workers need: no per-request retry limit (their commands block). */
  blocking?: boolean;
  /** Gives up within seconds, for good (`mailjobs-learn`: nobody waits on a Redis that is away). */
  giveUp?: boolean;
  /** Connect on the first command, not at once. */
  lazy?: boolean;
}

/** Three tries, 300 ms apart, then no more: for `giveUp`. */
const giveUpSoon = (times: number) => (times > 2 ? null : 300);

/**
 * Every connection mailjobs opens is made here, for a single server, a Sentinel set or a
 * Cluster. Producers and state readers fail fast instead of queueing commands while Redis is
 * away; `blocking` ones (BullMQ workers, subscribers) wait for it.
 */
export function connectRedis(target: RedisTarget, opts: ConnectOptions = {}): RedisClient {
  const settings = toSettings(target);
  const perNode = {
    lazyConnect: opts.lazy ?? false,
    ...(opts.blocking
      ? { maxRetriesPerRequest: null }
      : { maxRetriesPerRequest: opts.giveUp ? 1 : 2, enableOfflineQueue: true }),
    ...(opts.giveUp ? { retryStrategy: giveUpSoon, sentinelRetryStrategy: giveUpSoon } : {}),
  };
  if (settings.cluster) {
    const options = clusterOptions(settings, perNode);
    if (opts.giveUp) options.clusterRetryStrategy = giveUpSoon;
    return new Cluster(settings.cluster, { ...options, lazyConnect: perNode.lazyConnect });
  }
  return new Redis({ ...redisOptions(settings), ...perNode });
}

/**
 * BullMQ's `connection` option: plain options for a server or a Sentinel set (BullMQ makes the
 * connections), a Cluster connection of our own for a Cluster (BullMQ takes no options for one;
 * it duplicates it for a Worker's blocking connection and for QueueEvents, and whoever closes a
 * Queue or Worker ends the original: see `closeQueues`). Workers need `blocking` (`maxRetriesPerRequest: null`); producers fail
 * fast instead.
 */
export function bullConnection(target: RedisTarget, opts: { blocking: boolean }): ConnectionOptions {
  const settings = toSettings(target);
  // Lazy: BullMQ connects what it uses, and a blocking consumer (QueueEvents) uses only copies.
  if (settings.cluster) return connectRedis(settings, { ...opts, lazy: true }) as Cluster;
  return { ...redisOptions(settings), maxRetriesPerRequest: opts.blocking ? null : 2 } as ConnectionOptions;
}

/** What {@link endConnection} needs of a client: ioredis, or BullMQ's wrapper of one. */
export interface EndableConnection {
  readonly status: string;
  connect(): Promise<unknown>;
  disconnect(): void;
  once(event: 'end', listener: () => void): unknown;
  on(event: 'error', listener: () => void): unknown;
}

/**
 * Ends `client` now, whatever its state, without waiting for Redis: commands still queued fail
 * with "Connection is closed" and `end` fires. ioredis' own `disconnect()` does not end a client
 * that waits to reconnect (status `reconnecting`, no socket): it clears the retry timer and leaves
 * the client `reconnecting` for good, emitting neither `close` nor `end` (redis/ioredis#1247), and
 * BullMQ's `Worker.close()` waits for that `end` (taskforcesh/bullmq#4656, #4065). A connection
 * attempt started here and cancelled by the disconnect at once ends such a client before any
 * socket opens.
 */
export function endConnection(client: EndableConnection): Promise<void> {
  // Errors after this are not news (BullMQ may still try to reconnect a Worker's connection while
  // it closes); without a listener ioredis would print each one on stderr.
  client.on('error', () => undefined);
  if (client.status === 'end') return Promise.resolve();
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  if (client.status === 'reconnecting') client.connect().catch(() => undefined);
  client.disconnect();
  return ended;
}

/** PING with a short timeout; true when a Redis answers at `target` (and takes its login). */
export async function redisAnswers(target: RedisTarget, timeoutMs = 1000): Promise<boolean> {
  if (toSettings(target).cluster || toSettings(target).sentinels) {
    const c = connectRedis(target, { giveUp: true, lazy: true });
    c.on('error', () => undefined);
    try {
      await c.connect();
      return (await c.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      c.disconnect();
    }
  }
  const r = new Redis({
    ...redisOptions(target),
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

/** Redis error replies start with their code (`NOAUTH`, `WRONGPASS`, `NOPERM`: login problems). */
const LOGIN_REFUSED = new Set(['NOAUTH', 'WRONGPASS', 'NOPERM']);

/** Socket errors that say Redis is not there (yet): waiting may help, the config need not change. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOENT', // a unix socket that does not exist (yet)
]);

/** True for an error that means "Redis is away", as opposed to a refused login or certificate. */
export function isUnreachable(err: Error): boolean {
  return UNREACHABLE.has((err as NodeJS.ErrnoException).code ?? '');
}

/**
 * Checks that `redis` answers within `timeoutMs`, so a command or a worker that cannot use Redis
 * stops at once with one line (the address, the reason, what to set) instead of retrying in a
 * loop: a {@link RedisUnreachableError} when Redis is away, a `ConfigError` when it refuses the
 * login or the connection (a certificate).
 */
export async function checkRedisLogin(
  redis: RedisClient,
  target: RedisTarget,
  timeoutMs = REDIS_CHECK_TIMEOUT_MS,
): Promise<void> {
  // A connection that fails (refused, a certificate not trusted) rejects the PING only with
  // "max retries reached" (and emits that too): the connection's own errors say why.
  const connectionErrors: Error[] = [];
  const onError = (err: Error) => {
    connectionErrors.push(err);
    if (connectionErrors.length > 2) connectionErrors.shift();
  };
  redis.on('error', onError);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    await Promise.race([redis.ping(), deadline]);
  } catch (err) {
    const where = `Redis at ${describeRedis(target)}`;
    if (err instanceof ReplyError) {
      const reason = (err as Error).message;
      const hint = LOGIN_REFUSED.has(reason.split(' ')[0]!)
        ? ': set redis.username and redis.passwordFile in the config (or the password in REDIS_URL)'
        : '';
      throw new ConfigError(`${where}: ${reason}${hint}`);
    }
    const cause = connectionErrors.filter((e) => e !== err).at(-1) ?? (err as Error);
    if (cause === err || isUnreachable(cause)) throw new RedisUnreachableError(`${where}: ${cause.message}`);
    throw new ConfigError(`${where}: ${cause.message}`);
  } finally {
    clearTimeout(timer);
    redis.off('error', onError);
  }
}

/**
 * A warning when anyone who reaches Redis over TCP gets in without a password or client
 * certificate: Redis holds the jobs, their credentials (sealed) and the dashboard's sessions.
 * Tried rather than read from CONFIG, which managed servers often refuse or rename.
 */
export async function openAccessWarning(target: RedisTarget): Promise<string | undefined> {
  // A unix socket's file mode decides who gets in; a Sentinel set's master moves (not tried).
  const open = withoutCredentials(target);
  if (!open || !(await redisAnswers(open))) return undefined;
  return (
    `Redis at ${describeRedis(target)} accepts connections without a password over TCP: whoever reaches ` +
    'its port can read and change every job; set requirepass or an ACL user (README: Redis login and TLS)'
  );
}

/** The private instance under `dir`: its socket, and its password when it has one. */
function privateRedis(dir: string): RedisSettings & { url: string } {
  const file = resolve(dir, 'password');
  const url = `unix:${resolve(dir, 'redis.sock')}`;
  if (!existsSync(file)) return { url }; // started by a version that set none
  return { url, password: new Secret(readFileSync(file, 'utf8').trim(), `file:${file}`) };
}

/**
 * Starts redis-server from a config file (mode 0600, like the password file): a password on
 * its command line would be visible to every local user in `ps`.
 */
function startPrivateRedis(dir: string, log: Logger): RedisSettings & { url: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const passwordFile = resolve(dir, 'password');
  if (!existsSync(passwordFile)) {
    writeFileSync(passwordFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  }
  const settings = privateRedis(dir);
  const q = (path: string) => JSON.stringify(path);
  const conf = resolve(dir, 'redis.conf');
  writeFileSync(
    conf,
    [
      'daemonize yes',
      'port 0',
      `unixsocket ${q(settings.url.slice('unix:'.length))}`,
      'unixsocketperm 700',
      `dir ${q(dir)}`,
      'appendonly yes',
      `pidfile ${q(resolve(dir, 'redis.pid'))}`,
      `logfile ${q(resolve(dir, 'redis.log'))}`,
      `requirepass ${settings.password!.reveal()}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const run = spawnSync('redis-server', [conf], { stdio: 'pipe' });
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
    { dir, socket: settings.url, passwordFile },
    'started a private redis-server (unix socket only, password in passwordFile, append-only persistence on); it keeps running after mailjobs stops',
  );
  return settings;
}

/** The `redis:` config section: a URL, a Sentinel set or a Cluster, unless the default or a private server is wanted. */
export type RedisConfig = RedisSettings;

/**
 * Decides which Redis to use: the configured URL (config or REDIS_URL), else the default
 * address if it answers (with the configured login), else a private instance already running
 * under ./var/redis, else (when `startPrivate`) a new private instance.
 */
export async function resolveRedis(
  configured: RedisConfig,
  log: Logger,
  opts: { startPrivate: boolean; defaultUrl?: string; privateDir?: string },
): Promise<RedisSettings> {
  const { url, sentinels, cluster, username, password, tls } = configured;
  const login = {
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(tls ? { tls } : {}),
  };
  if (sentinels || cluster) {
    const { sentinelUsername, sentinelPassword, name } = configured;
    return {
      ...(sentinels ? { sentinels, ...(name ? { name } : {}) } : {}),
      ...(sentinelUsername ? { sentinelUsername } : {}),
      ...(sentinelPassword ? { sentinelPassword } : {}),
      ...(cluster ? { cluster } : {}),
      ...login,
    };
  }
  if (url) return { url, ...login };
  const fallback = { url: opts.defaultUrl ?? DEFAULT_REDIS_URL, ...login };
  const dir = resolve(opts.privateDir ?? PRIVATE_REDIS_DIR);
  if (await redisAnswers(fallback)) return fallback;
  const found = privateRedis(dir);
  if (existsSync(found.url.slice('unix:'.length)) && (await redisAnswers(found))) return found;
  if (!opts.startPrivate) {
    throw new RedisUnreachableError(
      `no Redis answers at ${fallback.url} nor in ${dir}: run "mailjobs start" first, or set REDIS_URL`,
    );
  }
  const started = startPrivateRedis(dir, log);
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers(started, 200)) return started;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new ConfigError(`the private redis-server did not answer on ${started.url} (see ${dir}/redis.log)`);
}

/** Warnings about a Redis that may lose jobs: no persistence, or keys evicted under memory pressure. */
export async function durabilityWarnings(redis: RedisClient): Promise<string[]> {
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
