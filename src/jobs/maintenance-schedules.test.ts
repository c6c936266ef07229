import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { desiredSchedules } from '../scheduler/desired.js';
import { freshclamJob } from './freshclam/index.js';
import { queueMonitorJob } from './queue-monitor/index.js';

const jobs = [freshclamJob, queueMonitorJob];

describe('maintenance schedules', () => {
  it('by default: freshclam every 3 hours, a queue sample every 10 s', () => {
    const d = desiredSchedules(jobs, parseConfig('{}', '/x/mailjobs.yaml', {}));
    expect(d.get('freshclam')).toEqual([{ id: 'config:freshclam', payload: {}, pattern: '23 */3 * * *' }]);
    expect(d.get('queue-monitor')).toEqual([
      expect.objectContaining({ id: 'config:queue-monitor', payload: { action: 'sample' }, everyMs: 10_000 }),
    ]);
  });

  it('config schedules override or disable them', () => {
    const config = parseConfig(
      'schedules:\n  freshclam: { cron: "5 */2 * * *" }\n  queue-monitor: { enabled: false }\n',
      '/x/mailjobs.yaml',
      {},
    );
    const d = desiredSchedules(jobs, config);
    expect(d.get('freshclam')).toEqual([expect.objectContaining({ pattern: '5 */2 * * *' })]);
    expect(d.get('queue-monitor')).toEqual([]);
  });

  it('every trigger of freshclam has the same target, so two never run at once', () => {
    expect(freshclamJob.target({})).toBe('signatures');
    expect(queueMonitorJob.target({ action: 'delete', queueId: 'E4ACC210004' })).toBe('delete:E4ACC210004');
    expect(queueMonitorJob.target({ action: 'resend' })).toBe('resend:ALL');
  });
});
