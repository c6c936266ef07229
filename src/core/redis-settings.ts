/**
 * How to reach Redis: the one place that turns the `redis:` config section into ioredis and
 * BullMQ connection options, for every connection mailjobs opens (workers, queues, events,
 * cancel subscribers, the dashboard's state, `mailjobs-learn`). Sentinel and Cluster settings
 * belong here too. No ioredis at run time: `config check` and `mailjobs-learn` load this.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'bullmq';
import type { RedisOptions } from 'ioredis';
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

/** A Redis server and how to log in to it. */
export interface RedisSettings {
  /** `redis://`, `rediss://` (TLS) or `unix:/path`; a user and password in it win over the fields. */
  url: string;
  /** ACL user (Redis 6+); unset: the default user. */
  username?: string;
  password?: Secret;
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

/** ioredis options: address, credentials and (for `rediss://`) TLS with the configured files. */
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
  if (s.url.startsWith('unix:')) return { path: s.url.slice('unix:'.length), ...base };
  const u = new URL(s.url);
  const tls = s.tls ?? {};
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    ...base,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    ...(u.protocol === 'rediss:'
      ? {
          tls: {
            ca: readPem('caFile', tls.caFile),
            cert: readPem('certFile', tls.certFile),
            key: readPem('keyFile', tls.keyFile),
          },
        }
      : {}),
  };
}

/**
 * BullMQ connection options. Workers need `maxRetriesPerRequest: null` for their blocking
 * commands; producers fail fast instead.
 */
export function bullConnection(target: RedisTarget, opts: { blocking: boolean }): ConnectionOptions {
  return { ...redisOptions(target), maxRetriesPerRequest: opts.blocking ? null : 2 } as ConnectionOptions;
}

/** The URL with any password masked, for logs, `status` and `config check`. */
export function displayUrl(url: string): string {
  if (url.startsWith('unix:')) return url;
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/** The same server without any credentials: to find out whether it lets anyone in. */
export function withoutCredentials(target: RedisTarget): RedisSettings {
  const { url, tls } = toSettings(target);
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return { url: u.toString(), ...(tls?.caFile ? { tls: { caFile: tls.caFile } } : {}) };
}
