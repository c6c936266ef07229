/**
 * The bayes-learn job's payload contract: one message a user moved into Junk (spam) or out of
 * it (ham). The message travels whole, base64, so any BullMQ client can produce the job and no
 * file has to be shared between the Dovecot host and the workers; its size is bounded here and,
 * tighter, by `bayesLearn.maxMessageKilobytes`, and finished jobs are trimmed fast (`keep`).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { MAX_MESSAGE_KILOBYTES_LIMIT } from '../../config/junk-defaults.js';
import type { JobContract } from '../types.js';

/** base64 of {@link MAX_MESSAGE_KILOBYTES_LIMIT} bytes. */
const MAX_BASE64_CHARS = Math.ceil((MAX_MESSAGE_KILOBYTES_LIMIT * 1024) / 3) * 4;

export const bayesLearnPayload = z.strictObject({
  /** `spam`: moved into Junk; `ham`: moved out of Junk (not to Trash). */
  class: z.enum(['spam', 'ham']),
  /** The mailbox owner, as Dovecot names them (`$USER` of the sieve pipe). */
  user: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[^\s\p{Cc}]+$/u, 'a user name without spaces or control characters'),
  /** The raw RFC 5322 message, base64 (standard alphabet, padded). */
  message: z.base64().min(4).max(MAX_BASE64_CHARS),
  /** When the user moved it (ms since the epoch): of two moves of one message, the later one wins. */
  movedAt: z.number().int().positive().optional(),
});

export type BayesLearnPayload = z.output<typeof bayesLearnPayload>;

/** SHA-256 of the message bytes, hex: the identity of "the same message" for dedup. */
export function messageDigest(base64: string): string {
  return createHash('sha256').update(Buffer.from(base64, 'base64')).digest('hex');
}

export const bayesLearnContract = {
  name: 'bayes-learn',
  summary: 'Teach Rspamd Bayes one message a user moved into Junk (spam) or out of it (ham)',
  schema: bayesLearnPayload,
  // Per user, class and message: a repeated move queues once, and a spam/ham flip queues both.
  target: (p: BayesLearnPayload) => `${p.user}:${p.class}:${messageDigest(p.message).slice(0, 32)}`,
  // Rspamd down: 30 s, 1 min, ... about 17 hours in all before the job fails (and is kept).
  retry: { attempts: 12, backoffSeconds: 30 },
  keep: {
    completed: { age: 3600, count: 100 },
    failed: { age: 30 * 86_400, count: 1000 },
  },
} satisfies JobContract<typeof bayesLearnPayload>;
