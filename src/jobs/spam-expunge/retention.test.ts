import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { spamExpungeSchema } from '../../config/junk.js';
import { cutoffFor, forEachLimited, retentionFor } from './retention.js';

const config = spamExpungeSchema.parse({ retentionDays: 15, perUser: { alice: 30, bob: 'infinite' } });

describe('retention', () => {
  it('uses the per-user override, else the global retention', () => {
    expect(retentionFor('alice', config)).toBe(30);
    expect(retentionFor('bob', config)).toBe('infinite');
    expect(retentionFor('carol', config)).toBe(15);
    // an inherited property name is not an override
    expect(retentionFor('constructor', config)).toBe(15);
  });

  it('puts the cutoff exactly N days back, and none for infinite', () => {
    const now = new Date('2026-03-20T12:00:00Z');
    expect(cutoffFor(15, now)?.toISOString()).toBe('2026-03-05T12:00:00.000Z');
    expect(cutoffFor('infinite', now)).toBeUndefined();
  });

  it('defaults to 15 days, every Dovecot user, the \\Junk folder', () => {
    const d = spamExpungeSchema.parse(undefined);
    expect(d).toMatchObject({ retentionDays: 15, users: 'doveadm', perUser: {} });
    expect(d.doveadm).toEqual(['doveadm', 'user', '-u', '*']);
    expect(d.junkFolder).toBeUndefined();
  });

  it('names the field of a bad retention', () => {
    const r = spamExpungeSchema.safeParse({ perUser: { alice: 'forever' } });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['perUser', 'alice']);
    expect(spamExpungeSchema.safeParse({ perUser: { 'a*vmail': 3 } }).success).toBe(false);
  });
});

describe('forEachLimited', () => {
  it('never runs more than the limit at once, and runs every item', async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    await forEachLimited([...Array(25).keys()], 4, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await nextTurn(); // the others start meanwhile, whatever the machine's speed
      seen.push(n);
      running--;
    });
    expect(peak).toBe(4);
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(25).keys()]);
  });

  it('starts nothing new after an abort, and rejects with its reason', async () => {
    const abort = new AbortController();
    const started: number[] = [];
    const run = forEachLimited(
      [...Array(10).keys()],
      2,
      async (n) => {
        started.push(n);
        if (n === 3) abort.abort(new Error('stop'));
        await nextTurn();
      },
      abort.signal,
    );
    await expect(run).rejects.toThrow('stop');
    expect(started.length).toBeLessThan(10);
  });
});
