/** The getmail job's payload contract: which configured connector to fetch. */
import { z } from 'zod';
import type { JobContract } from '../types.js';

export const getmailPayload = z.strictObject({
  /** The connector id (the remote account's address) from the config's `connectors:`. */
  account: z.string().min(1),
});

export type GetmailPayload = z.output<typeof getmailPayload>;

export const getmailContract = {
  name: 'getmail',
  summary: 'Fetch new mail of one POP3/IMAP connector and deliver it to its local user over LMTP',
  schema: getmailPayload,
  target: (p: GetmailPayload) => p.account,
  retry: { attempts: 4, backoffSeconds: 30 },
} satisfies JobContract<typeof getmailPayload>;
