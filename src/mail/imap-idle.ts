/**
 * Waiting for new mail in one IMAP folder with IDLE (RFC 2177): the folder is opened read-only
 * (EXAMINE changes nothing, not even \Recent), then IDLE runs until the connection ends. The
 * server's untagged EXISTS with a higher count than before is new mail. imapflow ends IDLE
 * with DONE and issues it again every `maxIdleTimeMs` given to `connectImap`, so no IDLE
 * outlives a server's 30-minute inactivity timeout (RFC 2177 section 3).
 *
 * With NOTIFY (RFC 5465) the other folders are watched on the same connection: the server
 * sends an untagged STATUS for a folder that got (or lost) a message; a higher UIDNEXT than
 * last seen is new mail. imapflow has no NOTIFY command: it is sent through imapflow's
 * command queue (`exec`) and the STATUS lines taken by a handler of its own (see below).
 */
import type { ImapFlow } from 'imapflow';
import { decodeMailboxName, encodeMailboxName } from './imap-utf7.js';

/** What the server announced after login (RFC 3501 CAPABILITY). */
export interface IdleCapabilities {
  idle: boolean;
  /** RFC 5465 NOTIFY: events of several folders on one connection. */
  notify: boolean;
}

export function idleCapabilities(client: ImapFlow): IdleCapabilities {
  return { idle: client.capabilities.has('IDLE'), notify: client.capabilities.has('NOTIFY') };
}

/** A parsed untagged response, as imapflow hands it to handlers. */
interface Untagged {
  attributes?: ({ value?: unknown } | { value?: unknown }[])[];
}

/** The imapflow internals NOTIFY needs; not in its public types (imapflow 2.x). */
interface ImapFlowInternals {
  exec(command: string, attributes: unknown[]): Promise<{ next(): void }>;
  untaggedHandlers: Record<string, ((u: Untagged) => unknown) | null | undefined>;
}

/** The folders besides the selected one whose new mail NOTIFY reports: a list, or all personal ones. */
export type NotifyFolders = readonly string[] | 'personal';

/** `* STATUS "Lists" (MESSAGES 3 UIDNEXT 9 ...)` → { path: 'Lists', uidNext: 9 }. */
function statusOf(u: Untagged): { path: string; uidNext?: number } | undefined {
  const [name, items] = u.attributes ?? [];
  if (!name || Array.isArray(name) || !Array.isArray(items)) return undefined;
  const path = decodeMailboxName(String(name.value ?? ''));
  for (let i = 0; i + 1 < items.length; i += 2) {
    if (String(items[i]!.value).toUpperCase() === 'UIDNEXT')
      return { path, uidNext: Number(items[i + 1]!.value) };
  }
  return { path };
}

/**
 * NOTIFY SET (RFC 5465 section 5): new and expunged messages of the selected folder as usual
 * (EXISTS), and of `others` as STATUS; both events together, as section 5.2 requires.
 */
async function notifySet(
  client: ImapFlow,
  others: NotifyFolders,
  onStatus: (u: Untagged) => void,
): Promise<void> {
  const internals = client as unknown as ImapFlowInternals;
  internals.untaggedHandlers.STATUS = onStatus;
  const events = [
    { type: 'ATOM', value: 'MessageNew' },
    { type: 'ATOM', value: 'MessageExpunge' },
  ];
  const filter =
    others === 'personal'
      ? [{ type: 'ATOM', value: 'personal' }, events]
      : [
          { type: 'ATOM', value: 'mailboxes' },
          others.map((f) => ({ type: 'STRING', value: encodeMailboxName(f) })),
          events,
        ];
  const none = others !== 'personal' && others.length === 0;
  const groups = [[{ type: 'ATOM', value: 'selected' }, events], ...(none ? [] : [filter])];
  const response = await internals.exec('NOTIFY', [{ type: 'ATOM', value: 'SET' }, ...groups]);
  response.next();
}

/**
 * Opens `path` read-only and stays in IDLE on it, calling `onNewMail` for each EXISTS that
 * raises the message count (and, with `notify`, for new mail in those folders), until the connection closes (then it resolves; the caller tells
 * an error from a close it asked for). `onIdle` runs once IDLE has been entered the first time.
 */
export async function idleOnFolder(
  client: ImapFlow,
  path: string,
  handlers: { onNewMail(folder: string): void; onIdle?(): void; onNotifyRefused?(err: Error): void },
  /** With NOTIFY: the other folders to watch on this connection. */
  notify?: NotifyFolders,
): Promise<void> {
  await client.mailboxOpen(path, { readOnly: true });
  if (notify) {
    const uidNext = new Map<string, number>();
    try {
      await notifySet(client, notify, (u) => {
        const s = statusOf(u);
        if (!s || s.path === path) return;
        const before = uidNext.get(s.path);
        if (s.uidNext !== undefined) uidNext.set(s.path, s.uidNext);
        // Unknown before, or grown: new mail (an expunge leaves UIDNEXT as it was).
        if (before === undefined || s.uidNext === undefined || s.uidNext > before) handlers.onNewMail(s.path);
      });
    } catch (err) {
      // A NO or BAD (a folder the server refuses, RFC 5465 section 6): IDLE on `path` alone.
      if (!client.usable) throw err;
      handlers.onNotifyRefused?.(err as Error);
    }
  }
  const onExists = (e: { path: string; count: number; prevCount: number }): void => {
    if (e.count > e.prevCount) handlers.onNewMail(path);
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
