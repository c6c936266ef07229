/** The tests' own view of a private Dovecot's mailbox: an IMAP session through the master login. */
import { ImapFlow } from 'imapflow';
import type { DovecotFixture } from '../fixtures/dovecot.js';

/**
 * A connected imapflow session as `user`, logged in as `<user>*vmail`. The fixture's certificate
 * is self-signed, so a STARTTLS upgrade does not verify it. `disableAutoIdle` for sessions kept
 * open between commands.
 */
export async function masterSession(
  fx: DovecotFixture,
  user: string,
  opts: { disableAutoIdle?: boolean } = {},
): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port: fx.imapPort,
    secure: false,
    auth: { user: fx.masterLogin(user), pass: fx.masterPassword },
    logger: false,
    tls: { rejectUnauthorized: false },
    ...opts,
  });
  await client.connect();
  return client;
}
