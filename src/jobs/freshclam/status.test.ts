import { describe, expect, it } from 'vitest';
import { signatureAlerts } from './status.js';

const alert = { maxAgeHours: 48, failuresInARow: 3 };
const now = Date.parse('2026-11-25T12:00:00Z');
const version = (hoursOld: number) => ({
  engine: '1.4.6',
  dbVersion: 27000,
  dbDate: new Date(now - hoursOld * 3_600_000),
  raw: 'ClamAV 1.4.6/27000/x',
});

describe('signature alerts', () => {
  it('none for fresh signatures and fewer failures than the threshold', () => {
    expect(signatureAlerts(version(47), { consecutiveFailures: 2 }, alert, now)).toEqual([]);
  });

  it('signatures older than maxAgeHours', () => {
    expect(signatureAlerts(version(72), { consecutiveFailures: 0 }, alert, now)).toEqual([
      'signatures are 3 days old (limit 48 h)',
    ]);
  });

  it('failuresInARow updates failed', () => {
    expect(signatureAlerts(version(1), { consecutiveFailures: 3 }, alert, now)).toEqual([
      'the last 3 updates failed',
    ]);
  });

  it('clamd not answering, or without a daily database', () => {
    expect(signatureAlerts(new Error('ECONNREFUSED'), { consecutiveFailures: 0 }, alert, now)).toEqual([
      'clamd does not answer: ECONNREFUSED',
    ]);
    expect(
      signatureAlerts({ engine: '1.4.6', raw: 'ClamAV 1.4.6' }, { consecutiveFailures: 0 }, alert, now),
    ).toEqual(['clamd reports no daily database: signature age unknown']);
  });
});
