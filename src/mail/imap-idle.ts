/**
 * Waiting for new mail in one IMAP folder with IDLE (RFC 2177): the folder is opened read-only
 * (EXAMINE changes nothing, not even \Recent), then IDLE runs until the connection ends. The
 * server's untagged EXISTS with a higher count than before is new mail. imapflow ends IDLE
 * with DONE and issues it again every `maxIdleTimeMs` given to `connectImap`, so no IDLE
 * outlives a server's 30-minute inactivity timeout (RFC 2177 section 3).
 */
import type { ImapFlow } from 'imapflow';

/** What the server announced after login (RFC 3501 CAPABILITY). */
export interface IdleCapabilities {
  idle: boolean;
  /** RFC 5465 NOTIFY: events of several folders on one connection. */
  notify: boolean;
}

export function idleCapabilities(client: ImapFlow): IdleCapabilities {
  return { idle: client.capabilities.has('IDLE'), notify: client.capabilities.has('NOTIFY') };
}

/**
 * Opens `path` read-only and stays in IDLE on it, calling `onNewMail` for each EXISTS that
 * raises the message count, until the connection closes (then it resolves; the caller tells
 * an error from a close it asked for). `onIdle` runs once IDLE has been entered the first time.
 */
export async function idleOnFolder(
  client: ImapFlow,
  path: string,
  handlers: { onNewMail(count: number): void; onIdle?(): void },
): Promise<void> {
  await client.mailboxOpen(path, { readOnly: true });
  const onExists = (e: { path: string; count: number; prevCount: number }): void => {
    if (e.count > e.prevCount) handlers.onNewMail(e.count);
  };
  client.on('exists', onExists);
  let announced = false;
  try {
    while (client.usable) {
      const idling = client.idle();
      if (!announced) {
        announced = true;
        handlers.onIdle?.();
      }
      // Returns when the connection closes (imapflow restarts IDLE itself at maxIdleTime).
      await idling;
    }
  } finally {
    client.off('exists', onExists);
  }
}
