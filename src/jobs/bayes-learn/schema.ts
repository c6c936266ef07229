/**
 * The bayes-learn job's payload contract: one message a user moved into Junk (spam) or out of
 * it (ham). The job data names the message (size, SHA-256, `bodyId`) but never holds it: Bull
 * Board and the API show job data to viewers. The bytes wait in Redis under a key only workers
 * read (body.ts, `queueLearn`), and are deleted once learned or given up.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { MAX_MESSAGE_KILOBYTES_LIMIT } from '../../config/junk-defaults.js';
import type { JobContract } from '../types.js';

export const bayesLearnPayload = z.strictObject({
  /** `spam`: moved into Junk; `ham`: moved out of Junk (not to Trash). */
  class: z.enum(['spam', 'ham']),
  /** The mailbox owner, as Dovecot names them (`$USER` of the sieve pipe). */
  user: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[^\s\p{Cc}]+$/u, 'a user name without spaces or control characters'),
  /** When the user moved it (ms since the epoch): of two moves of one message, the later one wins. */
  movedAt: z.number().int().positive().optional(),
  /** The message's size in bytes. */
  bytes: z
    .number()
    .int()
    .min(1)
    .max(MAX_MESSAGE_KILOBYTES_LIMIT * 1024),
  /** SHA-256 of the raw message, lowercase hex: checked against the stored bytes. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits (SHA-256)'),
  /** Names the stored raw RFC 5322 message (see the description, which the JSON Schema carries). */
  bodyId: z
    .string()
    .regex(/^[0-9a-f]{32}$/, '32 lowercase hex digits')
    .describe(
      'The raw message is the value of the Redis key {prefix}:state:bayes-learn:body:<bodyId>, written (with a TTL) before the job is added; the worker deletes it once done',
    ),
});

export type BayesLearnPayload = z.output<typeof bayesLearnPayload>;

/** SHA-256 of the message bytes, hex: the identity of "the same message" for dedup. */
export function messageDigest(message: Buffer): string {
  return createHash('sha256').update(message).digest('hex');
}

export const bayesLearnContract = {
  name: 'bayes-learn',
  summary: 'Teach Rspamd Bayes one message a user moved into Junk (spam) or out of it (ham)',
  schema: bayesLearnPayload,
  // Per user, class and message: a repeated move queues once, and a spam/ham flip queues both.
  target: (p: BayesLearnPayload) => `${p.user}:${p.class}:${p.sha256.slice(0, 32)}`,
  // Rspamd down: 30 s, 1 min, ... about 17 hours in all before the job fails (and is kept).
  retry: { attempts: 12, backoffSeconds: 30 },
  // Few and short-lived: a learn's outcome lives on in the counters and the log.
  keep: {
    completed: { age: 3600, count: 100 },
    failed: { age: 30 * 86_400, count: 1000 },
  },
} satisfies JobContract<typeof bayesLearnPayload>;
