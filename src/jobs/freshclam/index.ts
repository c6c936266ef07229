/**
 * freshclam: antivirus signature updates. Every 3 hours by default (config
 * `schedules.freshclam` overrides) and on demand; one run at a time, since every trigger has
 * the same target. Succeeds only once clamd's VERSION shows the new database.
 */
import { defineJob } from '../types.js';
import { updateSignatures } from './processor.js';
import { freshclamContract } from './schema.js';
import { freshclamStatus } from './status.js';

export const freshclamJob = defineJob({
  ...freshclamContract,
  concurrency: 1,
  process: (payload, ctx) => updateSignatures(payload, ctx),
  // Off the hour: many servers update at :00; a quieter minute is kinder to the mirrors.
  defaultSchedule: { schedule: { cron: '23 */3 * * *' }, payload: {} },
  status: freshclamStatus,
  hostCommands: (config) => [
    {
      command: config.freshclam.command,
      setting: 'freshclam.command',
      providedBy: 'freshclam (Debian: clamav-freshclam)',
    },
  ],
});
