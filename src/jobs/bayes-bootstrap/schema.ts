/**
 * The bayes-bootstrap job's payload contract: which trainers' mailboxes to learn from, how many
 * messages of each class at most, how old a read INBOX message must be to count as ham, and
 * whether to only count.
 */
import { z } from 'zod';
import { userName } from '../../config/junk.js';
import type { JobContract } from '../types.js';

export const bayesBootstrapPayload = z.strictObject({
  /** These trainers only; omitted: every trainer (`bayesLearn.trainers`). */
  users: z.array(userName).min(1).max(10_000).optional(),
  /** New learns per class in this run, over all users: spam and ham each stop here. */
  max: z.number().int().min(1).max(1_000_000).default(1000),
  /** An INBOX message counts as ham once read and saved at least this many days ago. */
  hamMinAgeDays: z.number().int().min(0).max(36_500).default(14),
  /** Count what would be learned, learn nothing. */
  dryRun: z.boolean().default(false),
});

export type BayesBootstrapPayload = z.output<typeof bayesBootstrapPayload>;

export const bayesBootstrapContract = {
  name: 'bayes-bootstrap',
  summary: "Teach Rspamd Bayes from the trainers' Junk folders (spam) and old read INBOX messages (ham)",
  schema: bayesBootstrapPayload,
  // One bootstrap at a time: two would race for the same messages and the same `max`.
  target: () => 'trainers',
  // Rspamd or Dovecot away: a retry skips what the first try learned (the dedup), so it is cheap.
  retry: { attempts: 3, backoffSeconds: 60 },
} satisfies JobContract<typeof bayesBootstrapPayload>;
