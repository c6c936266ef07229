/**
 * The queue-monitor job's payload contract: one queue, four kinds of work, told apart by
 * `action`. `sample` is what the schedule enqueues every 10 s; the others are the Queue
 * page's buttons (resend all/one, delete all/one), for the dashboard and any other producer.
 */
import { z } from 'zod';
import { QUEUE_ID_HINT, QUEUE_ID_PATTERN } from '../../mail/postfix-queue-id.js';
import type { JobContract } from '../types.js';

/** A Postfix queue id or ALL; the regex travels into the JSON Schema for producers in other languages. */
const queueIdOrAll = z
  .string()
  .regex(new RegExp(`^(?:ALL|${QUEUE_ID_PATTERN})$`), `not a Postfix queue id (${QUEUE_ID_HINT}) nor ALL`);

export const queueMonitorPayload = z.discriminatedUnion('action', [
  /** Count and size per queue, appended to the time series. */
  z.strictObject({ action: z.literal('sample') }),
  /** Deliver now: one deferred message (`postqueue -i`), or all (`postqueue -f`) when absent or ALL. */
  z.strictObject({ action: z.literal('resend'), queueId: queueIdOrAll.optional() }),
  /** Delete one message, or every queued message with ALL (`postsuper -d`). */
  z.strictObject({ action: z.literal('delete'), queueId: queueIdOrAll }),
]);

export type QueueMonitorPayload = z.output<typeof queueMonitorPayload>;

/**
 * Samples collide only with samples; each resend/delete target is its message (or ALL), so
 * deleting two different messages are two jobs, and a double click on one button is one.
 */
export function queueMonitorTarget(p: QueueMonitorPayload): string {
  if (p.action === 'sample') return 'sample';
  return `${p.action}:${p.queueId ?? 'ALL'}`;
}

export const queueMonitorContract = {
  name: 'queue-monitor',
  summary: 'Sample the Postfix queue into a time series; resend or delete queued messages',
  schema: queueMonitorPayload,
  target: queueMonitorTarget,
  // A failed sample is replaced by the next one in 10 s, and an admin's click is not repeated
  // behind their back: no retries.
  retry: { attempts: 1, backoffSeconds: 10 },
} satisfies JobContract<typeof queueMonitorPayload>;
