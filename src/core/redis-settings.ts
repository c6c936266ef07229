/**
 * How to reach Redis: the one place that turns the `redis:` config section into ioredis and
 * BullMQ connection options, for every connection mailjobs opens (workers, queues, events,
 * cancel subscribers, the dashboard's state, `mailjobs-learn`). Sentinel and Cluster settings
 * belong here too. No ioredis at run time: `config check` and `mailjobs-learn` load this.
 */
import { readFileSync } from 'node:fs';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import type { Secret } from '../config/secret.js';
import { ConfigError } from './errors.js';

/** Certificate files for `rediss://`, as absolute paths. */
export interface RedisTlsFiles {
  /** CA that signed the server's certificate (else the system's CAs). */
  caFile?: string;
  /** Client certificate and its key, for a server that asks for one (`tls-auth-clients`). */
  certFile?: string;
  keyFile?: string;
}

/** One Redis (or Sentinel) node: a Sentinel set or a Cluster is given as a list of them. */
export interface RedisNode {
  host: string;
  port: number;
}

/**
 * A Redis and how to log in to it: one server (`url`), a Sentinel set (`sentinels` + `name`) or
 * a Cluster (`cluster`, any of its nodes). The login and TLS files are those of the Redis
 * servers, in every mode; a Sentinel set has its own login (`sentinelUsername/Password`).
 */
export interface RedisSettings {
  /** `redis://`, `rediss://` (TLS) or `unix:/path`; a user and password in it win over the fields. */
  url?: string;
  /** Sentinels that know the master `name`; ioredis asks them for the master and follows failovers. */
  sentinels?: RedisNode[];
  /** The Sentinel master group's name (`sentinel monitor NAME ...`). */
  name?: string;
  sentinelUsername?: string;
  sentinelPassword?: Secret;
  /** Some nodes of a Redis Cluster: the others are found from them. */
  cluster?: RedisNode[];
  /** ACL user (Redis 6+); unset: the default user. */
  username?: string;
  password?: Secret;
  /** TLS with these files: for `rediss://`, or (when set at all) every Sentinel and Cluster node. */
  tls?: RedisTlsFiles;
}

/** A URL alone, or a URL with credentials and TLS files. */
export type RedisTarget = string | RedisSettings;

export const toSettings = (target: RedisTarget): RedisSettings =>
  typeof target === 'string' ? { url: target } : target;

function readPem(field: keyof RedisTlsFiles, file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(`redis.tls.${field}: cannot read "${file}": ${reason}`);
  }
}

/**
 * How long a command waits for Redis to answer at start-up before it gives up with one line (the
 * CLI's exit 3, README: exit codes); also every connection's connect timeout, so no attempt hangs
 * longer. With the disconnect grace below, a command is told within 5 s that Redis is away.
 */
export const REDIS_CHECK_TIMEOUT_MS = 3000;
/** How long closing a connection that is still connecting may take (ioredis' default: 2 s). */
const DISCONNECT_GRACE_MS = 500;
/**
 * Waits between reconnect attempts while Redis is away: at most 2 s, so every connection is back
 * within 2 s of Redis (BullMQ's own default grows to 20 s: a worker fetched no job, and a
 * shutdown waited for its connections, that long after Redis had returned).
 */
const reconnectDelayMs = (attempt: number) => Math.min(attempt * 200, 2000);

/** The TLS options of the configured files (the system's CAs when no `caFile`). */
function tlsOptions(tls: RedisTlsFiles = {}) {
  return {
    ca: readPem('caFile', tls.caFile),
    cert: readPem('certFile', tls.certFile),
    key: readPem('keyFile', tls.keyFile),
  };
}

/** The default address, when no `url`, `sentinels` nor `cluster` is set. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * ioredis options: address, credentials and (for `rediss://`) TLS with the configured files. For
 * a Sentinel set, the options that make ioredis ask the sentinels for the master; for a Cluster,
 * the options of each node (see {@link clusterOptions}).
 */
export function redisOptions(target: RedisTarget): RedisOptions {
  const s = toSettings(target);
  const login = {
    ...(s.username ? { username: s.username } : {}),
    ...(s.password ? { password: s.password.reveal() } : {}),
  };
  const base = {
    connectTimeout: REDIS_CHECK_TIMEOUT_MS,
    disconnectTimeout: DISCONNECT_GRACE_MS,
    retryStrategy: reconnectDelayMs,
    ...login,
  };
  if (s.sentinels) {
    const tls = s.tls ? tlsOptions(s.tls) : undefined;
    return {
      ...base,
      sentinels: s.sentinels,
      name: s.name ?? 'mymaster',
      ...(s.sentinelUsername ? { sentinelUsername: s.sentinelUsername } : {}),
      ...(s.sentinelPassword ? { sentinelPassword: s.sentinelPassword.reveal() } : {}),
      sentinelRetryStrategy: reconnectDelayMs,
      // After a failover the old master may come back as a replica: reconnect to the new one.
      reconnectOnError: (err) => err.message.startsWith('READONLY'),
      ...(tls ? { tls, sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
    };
  }
  if (s.cluster) return { ...base, ...(s.tls ? { tls: tlsOptions(s.tls) } : {}) };
  const url = s.url ?? DEFAULT_REDIS_URL;
  if (url.startsWith('unix:')) return { path: url.slice('unix:'.length), ...base };
  const u = new URL(url);
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    ...base,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    ...(u.protocol === 'rediss:' ? { tls: tlsOptions(s.tls) } : {}),
  };
}

/**
 * ioredis Cluster options: each node's options (login, TLS, `perNode`, e.g. BullMQ's
 * `maxRetriesPerRequest: null`), reconnects as quick as a single server's.
 */
export function clusterOptions(target: RedisSettings, perNode: RedisOptions): ClusterOptions {
  const { retryStrategy: _single, ...node } = redisOptions(target);
  return {
    redisOptions: { ...node, ...perNode },
    clusterRetryStrategy: reconnectDelayMs,
    slotsRefreshTimeout: REDIS_CHECK_TIMEOUT_MS,
    // Commands wait for the slot map rather than fail while the Cluster fails over.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 200,
    ...(perNode.maxRetriesPerRequest === null ? {} : { enableOfflineQueue: true }),
  };
}

const nodeList = (nodes: RedisNode[]) => nodes.map((n) => `${n.host}:${n.port}`).join(',');

/**
 * Where Redis is, for logs, errors and `status`: the URL with any password masked, or the
 * Sentinel set and its master name, or the Cluster's configured nodes.
 */
export function describeRedis(target: RedisTarget): string {
  const s = toSettings(target);
  if (s.sentinels) return `sentinel ${s.name ?? 'mymaster'} at ${nodeList(s.sentinels)}`;
  if (s.cluster) return `cluster ${nodeList(s.cluster)}`;
  return displayUrl(s.url ?? DEFAULT_REDIS_URL);
}

/** The URL with any password masked, for logs, `status` and `config check`. */
export function displayUrl(url: string): string {
  if (url.startsWith('unix:')) return url;
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/**
 * The same server without any credentials: to find out whether it lets anyone in. For a Cluster,
 * its first node; a Sentinel set has no fixed server (undefined).
 */
export function withoutCredentials(target: RedisTarget): RedisSettings | undefined {
  const s = toSettings(target);
  if (s.sentinels) return undefined;
  const { tls } = s;
  const first = s.cluster?.[0];
  const url = first
    ? `${tls ? 'rediss' : 'redis'}://${first.host}:${first.port}`
    : (s.url ?? DEFAULT_REDIS_URL);
  if (url.startsWith('unix:')) return undefined;
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return { url: u.toString(), ...(tls?.caFile ? { tls: { caFile: tls.caFile } } : {}) };
}
