/**
 * One side of a sync as a whole: every folder (`LIST "" "*"`) with its status in the same round
 * trip where the server has LIST-STATUS (RFC 5819; else one STATUS per folder), its namespaces
 * (RFC 2342), and creating the folders the other side needs.
 */
import type { ImapFlow, ListResponse, StatusObject } from 'imapflow';
import { imapStep } from './imap-errors.js';

/** A folder as LIST reported it (path decoded to UTF-8). */
export interface ListedFolder {
  path: string;
  delimiter: string;
  /** Attributes as the server sent them (`\Noselect`, `\Sent`, ...). */
  flags: ReadonlySet<string>;
}

/** One side's namespaces (RFC 2342). */
export interface NamespaceInfo {
  /** Personal namespace prefix, e.g. `INBOX.` or ``. */
  prefix: string;
  delimiter: string;
  /** Prefixes of the "other users" and "shared" namespaces. */
  otherPrefixes: readonly string[];
}

/** True when LIST announced `flag` (attributes compare case-insensitively). */
export function hasAttribute(flags: ReadonlySet<string>, flag: string): boolean {
  return [...flags].some((f) => f.toLowerCase() === flag.toLowerCase());
}

/** False for `\Noselect` and `\NonExistent` entries (RFC 3501, RFC 5258): placeholders of a hierarchy. */
export function selectable(f: ListedFolder): boolean {
  return !hasAttribute(f.flags, '\\Noselect') && !hasAttribute(f.flags, '\\NonExistent');
}

/** What decides whether a folder changed since the last run (RFC 3501 2.3.1.1, RFC 7162 3.1.2). */
export interface FolderStatus {
  uidValidity: string;
  uidNext: number;
  messages: number;
  /** HIGHESTMODSEQ as a decimal string; absent without CONDSTORE. */
  highestModseq?: string;
}

/** A listed folder with its subscription and, when selectable, its status. */
export interface SyncFolder extends ListedFolder {
  subscribed: boolean;
  status?: FolderStatus;
}

/** One side: its folders and its personal namespace. */
export interface MailboxTree {
  folders: SyncFolder[];
  namespace: NamespaceInfo;
}

/** imapflow's STATUS answer as a {@link FolderStatus}; undefined when a value is missing. */
export function folderStatus(s: Partial<StatusObject> | undefined): FolderStatus | undefined {
  if (s?.uidValidity === undefined || s.uidNext === undefined || s.messages === undefined) return undefined;
  return {
    uidValidity: s.uidValidity.toString(),
    uidNext: s.uidNext,
    messages: s.messages,
    ...(s.highestModseq !== undefined ? { highestModseq: s.highestModseq.toString() } : {}),
  };
}

const STATUS_QUERY = { messages: true, uidNext: true, uidValidity: true, highestModseq: true };

/** Every folder with its status and subscription, and the session's namespaces. */
export async function listTree(client: ImapFlow, opts: { status: boolean }): Promise<MailboxTree> {
  const listed: ListResponse[] = await imapStep(client, () =>
    client.list(opts.status ? { statusQuery: STATUS_QUERY } : {}),
  );
  const ns = client.namespaces;
  const personal = ns?.personal?.[0];
  const delimiter = personal?.delimiter ?? listed.find((f) => f.delimiter)?.delimiter ?? '/';
  const others = [...(ns?.other || []), ...(ns?.shared || [])].map((n) => n.prefix ?? '');
  const folders = listed.map((f) => {
    const status = selectable(f) ? folderStatus(f.status) : undefined;
    return {
      path: f.path,
      delimiter: f.delimiter || delimiter,
      flags: f.flags,
      subscribed: f.subscribed,
      ...(status ? { status } : {}),
    };
  });
  return { folders, namespace: { prefix: personal?.prefix ?? '', delimiter, otherPrefixes: others } };
}

/** STATUS of one folder (for servers whose LIST did not carry it). */
export async function statusOf(client: ImapFlow, path: string): Promise<FolderStatus | undefined> {
  const s = await imapStep(client, () => client.status(path, STATUS_QUERY));
  return s ? folderStatus(s) : undefined;
}

/**
 * Creates `paths` that do not exist yet, parents first, and subscribes them (imapflow's CREATE
 * subscribes); subscribes the existing ones in `subscribe`. Returns the paths created.
 */
export async function createFolders(
  client: ImapFlow,
  paths: readonly string[],
  subscribe: readonly string[],
  delimiter: string,
): Promise<string[]> {
  const depth = (p: string): number => (delimiter ? p.split(delimiter).length : 1);
  const created: string[] = [];
  for (const path of [...paths].sort((a, b) => depth(a) - depth(b) || a.localeCompare(b))) {
    await imapStep(client, () => client.mailboxCreate(path));
    created.push(path);
  }
  for (const path of subscribe) await imapStep(client, () => client.mailboxSubscribe(path));
  return created;
}
