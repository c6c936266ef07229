/**
 * The alerts job's payload contract: nothing to say. The schedule runs it every minute; every
 * trigger has the same target, so two runs never decide about the same mail at once.
 */
import { z } from 'zod';
import type { JobContract } from '../types.js';

export const alertsPayload = z.strictObject({});

export type AlertsPayload = z.output<typeof alertsPayload>;

export const alertsContract = {
  name: 'alerts',
  summary: 'Mail the postmaster when a problem starts and when it clears (grouped, rate-limited)',
  schema: alertsPayload,
  target: () => 'alerts',
  // The next run, a minute later, looks again: no retries.
  retry: { attempts: 1, backoffSeconds: 60 },
  // One run a minute: a day of history is plenty.
  keep: { completed: { age: 86_400, count: 100 }, failed: { age: 7 * 86_400, count: 100 } },
} satisfies JobContract<typeof alertsPayload>;
