/** The getmail job's payload contract: which configured connector to fetch. */
import { z } from 'zod';
import type { Config, ConnectorConfig } from '../../config/schema.js';
import { NotInConfigError } from '../../core/errors.js';
import type { JobContract } from '../types.js';

export const getmailPayload = z.strictObject({
  /** The connector id (the remote account's address) from the config's `connectors:`. */
  account: z.string().min(1),
});

export type GetmailPayload = z.output<typeof getmailPayload>;

/** The connector of `account`; a `NotInConfigError` when the config has none. */
export function findConnector(config: Config, account: string): ConnectorConfig {
  const c = config.connectors.find((x) => x.id === account);
  if (!c) throw new NotInConfigError(`getmail: no connector "${account}" in the config`, 'ENOCONNECTOR');
  return c;
}

export const getmailContract = {
  name: 'getmail',
  summary: 'Fetch new mail of one POP3/IMAP connector and deliver it to its local user over LMTP',
  schema: getmailPayload,
  target: (p: GetmailPayload) => p.account,
  checkInConfig: (p: GetmailPayload, config: Config) => void findConnector(config, p.account),
  retry: { attempts: 4, backoffSeconds: 30 },
} satisfies JobContract<typeof getmailPayload>;
