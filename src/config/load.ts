/**
 * Loads the one config file: YAML → env overrides → zod → typed `Config`.
 * Any problem throws `ConfigError` whose message names the file, the field path and the reason.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { configSchema, type Config } from './schema.js';
import { Secret } from './secret.js';

export const DEFAULT_CONFIG_PATH = './mailjobs.yaml';

/** Which file to read: `--config`, then `MAILJOBS_CONFIG`, then `./mailjobs.yaml`. */
export function configPath(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag ?? env.MAILJOBS_CONFIG ?? DEFAULT_CONFIG_PATH);
}

/** `connectors[0].passwordFile` from zod's path array. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}

/** Environment overrides for connection settings, applied before validation. */
function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const redis = { ...((raw.redis as Record<string, unknown> | undefined) ?? {}) };
  if (env.REDIS_URL) redis.url = env.REDIS_URL;
  if (env.MAILJOBS_PREFIX) redis.prefix = env.MAILJOBS_PREFIX;
  return { ...raw, redis };
}

/** Parses and validates config text; `file` is used for messages and relative secret paths. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new ConfigError(`${file}: YAML syntax error: ${e.message.split('\n')[0]}`, file);
  }
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw) || raw === null) {
    throw new ConfigError(`${file}: the top level must be a mapping (key: value)`, file);
  }
  const baseDir = dirname(file);
  const readSecret = (path: string, ctx: z.RefinementCtx) => {
    const full = resolve(baseDir, path);
    try {
      const value = readFileSync(full, 'utf8').replace(/\r?\n$/, '');
      if (value.length === 0) throw new Error('the file is empty');
      return new Secret(value, `file:${full}`);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      ctx.addIssue({ code: 'custom', message: `cannot read secret file "${full}": ${reason}` });
      return new Secret('', `file:${full}`);
    }
  };
  const schema = configSchema(readSecret, (path) => resolve(baseDir, path));
  const result = schema.safeParse(applyEnv(raw as Record<string, unknown>, env));
  if (!result.success) {
    const lines = result.error.issues.map(
      (i) => `${file}: ${formatPath(i.path) || '(top level)'}: ${i.message}`,
    );
    throw new ConfigError(lines.join('\n'), file);
  }
  return result.data;
}

/** Reads and validates the config file at `file` (see `configPath`). */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'ENOENT' ? ' (copy mailjobs.example.yaml there, or pass --config FILE)' : '';
    throw new ConfigError(
      `${file}: cannot read the config file: ${code ?? (err as Error).message}${hint}`,
      file,
    );
  }
  return parseConfig(text, file, env);
}
