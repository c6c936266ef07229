import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../config/load.js';
import { desiredSchedules } from '../../scheduler/desired.js';
import { quarantineJob } from './index.js';

describe('quarantine schedule', () => {
  it('every minute by default; schedules.quarantine overrides or disables it', () => {
    const d = desiredSchedules([quarantineJob], parseConfig('{}', '/x/mailjobs.yaml', {}));
    expect(d.get('quarantine')).toEqual([
      expect.objectContaining({ id: 'config:quarantine', payload: {}, everyMs: 60_000 }),
    ]);
    const off = parseConfig('schedules:\n  quarantine: { enabled: false }\n', '/x/mailjobs.yaml', {});
    expect(desiredSchedules([quarantineJob], off).get('quarantine')).toEqual([]);
  });

  it('one target for every trigger, so two runs never index or notify at once', () => {
    expect(quarantineJob.target({ digestNow: false })).toBe(quarantineJob.target({ digestNow: true }));
  });
});
