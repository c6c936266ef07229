/**
 * The quarantine job's payload contract. A run indexes new messages of the quarantine mailbox,
 * sends the notifications due and expunges what is past retention; `digestNow` also sends the
 * digest at once (else it goes at `quarantine.digestCron`). Every trigger has one target, so two
 * runs never index or notify the same message at once.
 */
import { z } from 'zod';
import type { JobContract } from '../types.js';

export const quarantinePayload = z.strictObject({
  /** With `notify: digest`: send the digest of what is not notified yet now. */
  digestNow: z.boolean().default(false),
});

export type QuarantinePayload = z.output<typeof quarantinePayload>;

export const quarantineContract = {
  name: 'quarantine',
  summary: 'Index the quarantine mailbox, notify the postmaster (each or digest), expunge after retention',
  schema: quarantinePayload,
  target: () => 'quarantine',
  // The next run, a minute later, does what this one could not.
  retry: { attempts: 1, backoffSeconds: 60 },
  keep: { completed: { age: 86_400, count: 100 }, failed: { age: 7 * 86_400, count: 100 } },
} satisfies JobContract<typeof quarantinePayload>;
