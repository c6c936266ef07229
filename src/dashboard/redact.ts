/**
 * Redaction of what the dashboard shows: job data, return values and progress in Bull Board,
 * and every JSON API answer. Sealed secrets (`mjs2.`..., and older `mjs1.`) and values under secret-looking keys
 * become `[redacted]`, at any depth; nothing else changes.
 */
import { looksSealed } from '../core/crypto.js';

export const REDACTED = '[redacted]';

/** Keys whose values are secrets whatever they hold (password, passwordHash, secret, token, apiKey...). */
const SECRET_KEY = /^pass$|passw(or)?d|secret|token|api[-_]?key|credential|^auth$|cookie|^session(id)?$/i;

function secretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** A copy of `value` with secrets replaced; cycles and depth are bounded. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return looksSealed(value) ? REDACTED : value;
  if (value === null || typeof value !== 'object') return value;
  if (depth > 32) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] =
      secretKey(k) && v !== null && v !== undefined && v !== '' && typeof v !== 'boolean'
        ? REDACTED
        : redact(v, depth + 1);
  }
  return out;
}
