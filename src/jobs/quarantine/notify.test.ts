import { describe, expect, it } from 'vitest';
import { digestDue } from './notify.js';

const at = (iso: string): number => Date.parse(iso);

describe('digestDue', () => {
  // Local time of the process: build instants from local wall-clock times.
  const local = (y: number, mo: number, d: number, h: number, mi = 0): number =>
    new Date(y, mo - 1, d, h, mi).getTime();

  it('starts the clock on the first run: nothing due', () => {
    expect(digestDue('0 8 * * *', undefined, at('2026-12-05T09:00:00Z'))).toBe(false);
  });

  it('due once a time of the cron has passed since the last digest, not before', () => {
    const last = local(2026, 12, 5, 8, 0);
    expect(digestDue('0 8 * * *', last, local(2026, 12, 5, 12))).toBe(false);
    expect(digestDue('0 8 * * *', last, local(2026, 12, 6, 7, 59))).toBe(false);
    expect(digestDue('0 8 * * *', last, local(2026, 12, 6, 8, 1))).toBe(true);
    // A missed time (worker down at 08:00) is caught up by the next run.
    expect(digestDue('0 8 * * *', last, local(2026, 12, 9, 15))).toBe(true);
  });
});
