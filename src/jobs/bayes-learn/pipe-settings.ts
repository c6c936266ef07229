/**
 * The few settings `mailjobs-learn` needs (spool, size limit, log file, Redis), read straight
 * from the YAML. Not through the full config loader: that one reads every secret file, which
 * the user running it (a mail user, say) must not be able to read, and costs start-up time on
 * every call (it reads `redis.passwordFile` alone, to log in like the workers). A bad value is
 * reported with its field and replaced by the default, since the pipe must never fail the
 * user's move; `mailjobs config check` validates the same fields fully.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { Secret } from '../../config/secret.js';
import type { RedisNode, RedisSettings, RedisTlsFiles } from '../../core/redis-settings.js';
import {
  DEFAULT_LEARN_CONFIG,
  DEFAULT_MAX_MESSAGE_KILOBYTES,
  DEFAULT_SPOOL_DIR,
  MAX_MESSAGE_KILOBYTES_LIMIT,
} from '../../config/junk-defaults.js';

export interface PipeSettings {
  configFile: string;
  spoolDir: string;
  maxMessageBytes: number;
  logFile?: string;
  /**
   * `REDIS_URL`, else `redis.url`, `redis.sentinels` or `redis.cluster`, else the default address;
   * with the config's login and TLS files.
   */
  redis: RedisSettings;
  prefix: string;
  /** What was wrong with the file, field by field (the defaults were used instead). */
  problems: string[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `--config`, else `MAILJOBS_CONFIG`, else /etc/mailjobs/mailjobs.yaml (the pipe has no useful cwd). */
export function pipeConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag ?? env.MAILJOBS_CONFIG ?? DEFAULT_LEARN_CONFIG;
}

export function readPipeSettings(configFile: string, env: NodeJS.ProcessEnv = process.env): PipeSettings {
  const problems: string[] = [];
  let doc: Obj = {};
  try {
    const parsed: unknown = parse(readFileSync(configFile, 'utf8'));
    if (isObj(parsed)) doc = parsed;
    else if (parsed != null) problems.push(`${configFile}: the top level must be a mapping`);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    problems.push(`${configFile}: ${e.code ?? e.message.split('\n')[0]}; using defaults`);
  }
  const section = (name: string): Obj => (isObj(doc[name]) ? doc[name] : {});
  /** The value at `redis.url`-style `field`, or `fallback` (with a problem) when it breaks `rule`. */
  const pick = <T>(field: string, ok: (v: unknown) => v is T, fallback: T, rule: string): T => {
    const [name, key] = field.split('.') as [string, string];
    const v = section(name)[key];
    if (v === undefined) return fallback;
    if (ok(v)) return v;
    problems.push(`${configFile}: ${field}: ${rule}; using ${JSON.stringify(fallback)}`);
    return fallback;
  };
  const path = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
  const kb = (v: unknown): v is number =>
    Number.isInteger(v) && (v as number) >= 1 && (v as number) <= MAX_MESSAGE_KILOBYTES_LIMIT;
  const redisUrl = (v: unknown): v is string => path(v) && /^rediss?:\/\/|^unix:\//.test(v);
  const prefix = (v: unknown): v is string => path(v) && /^[A-Za-z0-9_.-]+$/.test(v);
  const file = (p: string) => resolve(dirname(configFile), p);
  const tlsSection = isObj(section('redis').tls) ? (section('redis').tls as Obj) : {};
  const tls: RedisTlsFiles = {};
  for (const key of ['caFile', 'certFile', 'keyFile'] as const) {
    const v = tlsSection[key];
    if (path(v)) tls[key] = file(v);
    else if (v !== undefined) problems.push(`${configFile}: redis.tls.${key}: must be a path; ignored`);
  }
  const username = pick('redis.username', path, '', 'must be a name');
  /** The secret in the file at `field`; a file it cannot read is left to the spool (see above). */
  const secret = (field: string): Secret | undefined => {
    const passwordFile = pick(field, path, '', 'must be a path');
    if (!passwordFile) return undefined;
    try {
      return new Secret(
        readFileSync(file(passwordFile), 'utf8').replace(/\r?\n$/, ''),
        `file:${file(passwordFile)}`,
      );
    } catch (err) {
      // Left to the spool: the worker's spool watcher queues it with its own login.
      problems.push(`${configFile}: ${field}: cannot read: ${(err as NodeJS.ErrnoException).code}`);
      return undefined;
    }
  };
  const password = secret('redis.passwordFile');
  const nodes = (v: unknown): v is RedisNode[] =>
    Array.isArray(v) &&
    v.length > 0 &&
    v.every((n) => isObj(n) && path(n.host) && Number.isInteger(n.port) && (n.port as number) > 0);
  const nodeRule = 'must be a list of { host, port }; ignored';
  const sentinels = env.REDIS_URL ? [] : pick('redis.sentinels', nodes, [], nodeRule);
  const cluster = env.REDIS_URL ? [] : pick('redis.cluster', nodes, [], nodeRule);
  const name = pick('redis.name', path, 'mymaster', 'must be a name');
  const sentinelUsername = pick('redis.sentinelUsername', path, '', 'must be a name');
  const sentinelPassword = sentinels.length > 0 ? secret('redis.sentinelPasswordFile') : undefined;
  const where: Omit<RedisSettings, 'username' | 'password' | 'tls'> =
    sentinels.length > 0
      ? {
          sentinels,
          name,
          ...(sentinelUsername ? { sentinelUsername } : {}),
          ...(sentinelPassword ? { sentinelPassword } : {}),
        }
      : cluster.length > 0
        ? { cluster }
        : {
            url:
              env.REDIS_URL ||
              pick('redis.url', redisUrl, '', 'must start with redis://, rediss:// or unix:/') ||
              'redis://127.0.0.1:6379',
          };
  const logFile = pick('bayesLearn.logFile', path, '', 'must be a path');
  const maxKb = pick(
    'bayesLearn.maxMessageKilobytes',
    kb,
    DEFAULT_MAX_MESSAGE_KILOBYTES,
    `must be an integer from 1 to ${MAX_MESSAGE_KILOBYTES_LIMIT}`,
  );
  return {
    configFile,
    spoolDir: pick('bayesLearn.spoolDir', path, DEFAULT_SPOOL_DIR, 'must be a path'),
    maxMessageBytes: maxKb * 1024,
    ...(logFile ? { logFile } : {}),
    redis: {
      ...where,
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      ...(Object.keys(tls).length > 0 ? { tls } : {}),
    },
    prefix: env.MAILJOBS_PREFIX || pick('redis.prefix', prefix, 'mailjobs', 'letters, digits, _ . - only'),
    problems,
  };
}
