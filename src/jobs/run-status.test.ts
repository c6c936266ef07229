/** The one severity policy over run records, and its phrase, at the edges of each rule. */
import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../worker/run-record.js';
import { FAILING_CRITICAL_MS, runPhrase, runSeverity, worst } from './run-status.js';

const now = Date.UTC(2026, 11, 5, 10, 0);
const record = (more: Partial<RunRecord>): RunRecord => ({
  job: 'getmail',
  target: 'a',
  consecutiveFailures: 0,
  ...more,
});
const failing = (n: number, since: number, permanent = false) =>
  record({
    consecutiveFailures: n,
    failingSince: since,
    lastFailureAt: now,
    lastError: 'no route',
    lastErrorPermanent: permanent,
  });

describe('run severity', () => {
  it('is ok without a record, or after a success', () => {
    expect(runSeverity(undefined, now)).toBe('ok');
    expect(runSeverity(record({ lastSuccessAt: now }), now)).toBe('ok');
  });

  it('warns for one or two failures within a day; critical from the third, after a day, or when no retry can help', () => {
    expect(runSeverity(failing(1, now - 60_000), now)).toBe('warning');
    expect(runSeverity(failing(2, now - FAILING_CRITICAL_MS + 1), now)).toBe('warning');
    expect(runSeverity(failing(2, now - FAILING_CRITICAL_MS), now)).toBe('critical');
    expect(runSeverity(failing(3, now - 60_000), now)).toBe('critical');
    expect(runSeverity(failing(1, now - 60_000, true), now)).toBe('critical');
  });

  it('takes the worst', () => {
    expect(worst()).toBe('ok');
    expect(worst('ok', 'warning', 'ok')).toBe('warning');
    expect(worst('critical', 'warning')).toBe('critical');
  });
});

describe('run phrase', () => {
  it('says how the runs went, with relative and local times', () => {
    const clock = (ms: number) => new Date(ms).toTimeString().slice(0, 5);
    expect(runPhrase(undefined, undefined, now)).toBe('never run');
    const ok = record({ lastSuccessAt: now - 180_000, lastCounts: { delivered: 12 } });
    expect(runPhrase(ok, (c) => `${String(c.delivered)} delivered`, now)).toBe(
      `ok 3 min ago (${clock(now - 180_000)}), 12 delivered`,
    );
    expect(runPhrase(failing(2, now - 40 * 60_000), undefined, now)).toBe(
      `failing (2x) since 40 min ago (${clock(now - 40 * 60_000)}): no route`,
    );
    const stopped = {
      ...ok,
      lastOutcome: 'cancelled' as const,
      lastCancelledAt: now - 5000,
      lastCancelReason: 'cancelled by alice',
    };
    expect(runPhrase(stopped, undefined, now)).toBe(
      `stopped 5 s ago (${clock(now - 5000)}) (cancelled by alice); before: ok 3 min ago (${clock(now - 180_000)})`,
    );
    expect(runPhrase(record({ lastStartAt: now - 2000 }), undefined, now)).toBe(
      `started 2 s ago (${clock(now - 2000)}), no run finished yet`,
    );
  });
});
