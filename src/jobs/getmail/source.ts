/**
 * The remote side of a connector, the same for POP3 and IMAP: folders holding messages
 * (POP3 has one, `INBOX`), each message retrievable into a spool and deletable.
 */
import type { MessageSpool } from '../../mail/spool.js';

export interface RemoteMessage {
  /** UIDL (POP3) or UID (IMAP), as a string. */
  id: string;
  /** What retrieve/delete take: the POP3 message number, or the IMAP UID. */
  ref: number;
  size: number;
}

export interface RemoteFolder {
  /** `INBOX` for POP3. */
  name: string;
  /** UIDVALIDITY (IMAP) or `pop3`. */
  validity: string;
  messages: RemoteMessage[];
  /**
   * Retrieves `refs` in order and awaits `onMessage` for each (it owns the spool: dispose it).
   * POP3 pipelines the next RETRs while `onMessage` runs. A throw from `onMessage` stops it.
   */
  retrieveEach(refs: number[], onMessage: (ref: number, spool: MessageSpool) => Promise<void>): Promise<void>;
  /** Deletes on the server (POP3: committed when the session ends with QUIT). */
  delete(refs: number[]): Promise<void>;
}

export interface RemoteSession {
  readonly protocol: 'pop3' | 'imap';
  readonly tls: boolean;
  folders(): AsyncGenerator<RemoteFolder>;
  /** Ends the session cleanly (POP3 QUIT commits deletions). */
  close(): Promise<void>;
}

/** The key under which a remote message is remembered (per account). */
export function messageKey(
  folder: Pick<RemoteFolder, 'name' | 'validity'>,
  msg: Pick<RemoteMessage, 'id'>,
): string {
  return `${encodeURIComponent(folder.name)}:${folder.validity}/${msg.id}`;
}

/** Keys of `folder` start with this; used to forget keys no longer on the server. */
export function folderKeyPrefix(folder: RemoteFolder): string {
  return `${encodeURIComponent(folder.name)}:`;
}
