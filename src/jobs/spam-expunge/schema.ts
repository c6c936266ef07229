/** The spam-expunge job's payload contract: all users, or one; for real or as a dry run. */
import { z } from 'zod';
import type { JobContract } from '../types.js';

/** The target of a run over every user (`*` cannot be part of a Dovecot user name we accept). */
export const ALL_USERS = '*';

export const spamExpungePayload = z.strictObject({
  /** One user's Junk only; omitted: every user (`spamExpunge.users` in the config). */
  user: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[^*\s\p{Cc}]+$/u, 'a user name without "*", spaces or control characters')
    .optional(),
  /** Report what would be expunged, change nothing. */
  dryRun: z.boolean().default(false),
});

export type SpamExpungePayload = z.output<typeof spamExpungePayload>;

export const spamExpungeContract = {
  name: 'spam-expunge',
  summary: 'Expunge Junk messages older than the retention period (global, per user, or infinite)',
  schema: spamExpungePayload,
  target: (p: SpamExpungePayload) => p.user ?? ALL_USERS,
  retry: { attempts: 3, backoffSeconds: 300 },
} satisfies JobContract<typeof spamExpungePayload>;
