/**
 * The freshclam job's payload contract. There is one signature database per ClamAV host, so
 * the payload names nothing and every trigger has the same target: two triggers at once
 * (schedule + "Update now", or two clicks) collide on the dedup id and the target lock, and
 * freshclam runs once.
 */
import { z } from 'zod';
import type { JobContract } from '../types.js';

export const freshclamPayload = z.strictObject({});

export type FreshclamPayload = z.output<typeof freshclamPayload>;

/** The one target of every freshclam job. */
export const SIGNATURES_TARGET = 'signatures';

export const freshclamContract = {
  name: 'freshclam',
  summary: 'Update the antivirus signatures with freshclam and wait until clamd has loaded them',
  schema: freshclamPayload,
  target: () => SIGNATURES_TARGET,
  // A mirror that is down now is often up in minutes; errors a retry cannot fix are permanent.
  retry: { attempts: 3, backoffSeconds: 60 },
} satisfies JobContract<typeof freshclamPayload>;
