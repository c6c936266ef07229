/**
 * How a target's runs went, as `mailjobs status`, the pages and the jobs' status rows judge it:
 * the one policy over the run record (src/worker/run-record.ts).
 *  - `ok`: the last finished run succeeded, or none finished yet;
 *  - `warning`: the last runs failed, fewer than {@link FAILURES_CRITICAL} in a row, for less
 *    than a day: a retry may still fix it;
 *  - `critical`: a failure no retry can fix (a refused login, a missing local user),
 *    {@link FAILURES_CRITICAL} failures in a row, or failing for {@link FAILING_CRITICAL_MS}.
 * A run stopped on request or at shutdown changes nothing.
 */
import type { RunRecord } from '../worker/run-record.js';
import { when } from './format.js';
import type { Severity } from './types.js';

export const FAILURES_CRITICAL = 3;
export const FAILING_CRITICAL_MS = 24 * 3_600_000;

const RANK: Record<Severity, number> = { ok: 0, warning: 1, critical: 2 };

/** The severity of a target's record (`ok` without one). */
export function runSeverity(r: RunRecord | undefined, now = Date.now()): Severity {
  if (!r || r.consecutiveFailures === 0) return 'ok';
  if (r.lastErrorPermanent || r.consecutiveFailures >= FAILURES_CRITICAL) return 'critical';
  if (r.failingSince !== undefined && now - r.failingSince >= FAILING_CRITICAL_MS) return 'critical';
  return 'warning';
}

/** The worst of `severities` (`ok` for none). */
export function worst(...severities: Severity[]): Severity {
  return severities.reduce<Severity>((a, b) => (RANK[b] > RANK[a] ? b : a), 'ok');
}

/**
 * One phrase for a target's runs: `ok 3 min ago (10:42), 12 delivered` (`counts` describes the
 * last success's counts), `failing (2x) since 40 min ago (10:05): <reason>`, `never run`.
 */
export function runPhrase(
  r: RunRecord | undefined,
  counts?: (c: Record<string, unknown>) => string,
  now = Date.now(),
): string {
  if (!r) return 'never run';
  if (r.consecutiveFailures > 0)
    return `failing (${r.consecutiveFailures}x) since ${when(r.failingSince ?? r.lastFailureAt, now)}: ${r.lastError ?? ''}`;
  const described = r.lastCounts && counts ? counts(r.lastCounts) : '';
  const ok =
    r.lastSuccessAt === undefined
      ? 'no run finished yet'
      : `ok ${when(r.lastSuccessAt, now)}${described ? `, ${described}` : ''}`;
  if (r.lastOutcome === 'cancelled')
    return `stopped ${when(r.lastCancelledAt, now)} (${r.lastCancelReason ?? '?'}); before: ${ok}`;
  return r.lastSuccessAt === undefined ? `started ${when(r.lastStartAt, now)}, ${ok}` : ok;
}
