/**
 * What a getmail run does with a folder, decided from what it lists and what the account
 * remembers: pure functions, no I/O. The run asks; the pipeline and the ledger act.
 */
import type { ConnectorConfig } from '../../config/schema.js';
import type { RemoteMessage } from './source.js';

/** A listed message with its key (see `messageKey`). */
export interface Listed {
  key: string;
  msg: RemoteMessage;
}

/** What the account remembers of a folder's messages (see `FetchLedger`). */
export interface Memory {
  /** Delivered (or otherwise settled) key → retrieval time in ms. */
  seen: ReadonlyMap<string, number>;
  /** Keys whose delivery outcome is unknown (an interrupted run). */
  inflight: ReadonlySet<string>;
  /** Keys held after repeated failures: not tried until an admin says so. */
  held: ReadonlySet<string>;
}

export interface Limits {
  messages: number;
  bytes: number;
  messageBytes: number;
}

export interface FolderPlan {
  /** To retrieve, in this order. */
  fetch: Listed[];
  /** Over the per-message limit: left on the server. */
  tooBig: Listed[];
  /** Left for the next run by the per-run limits. */
  deferred: number;
  /** Held: not tried this run. */
  held: Listed[];
}

/**
 * UIDs cannot be trusted when UIDVALIDITY changed, or when a POP3 server renumbered its UIDLs
 * (we knew messages in this folder and none of the listed keys is one of them): messages are
 * then matched by identity against what this account delivered.
 */
export function uidsUntrusted(opts: {
  previousValidity: string | null;
  validity: string;
  known: readonly string[];
  listed: readonly string[];
  seen: ReadonlyMap<string, number>;
}): boolean {
  const { previousValidity, validity, known, listed, seen } = opts;
  if (previousValidity !== null && previousValidity !== validity) return true;
  return known.length > 0 && listed.length > 0 && listed.every((k) => !seen.has(k));
}

/** Listed keys whose delivery outcome is unknown: to look up in the local mailbox first. */
export function suspects(listed: readonly Listed[], memory: Memory, limits: Limits): Listed[] {
  return listed.filter(
    (l) => memory.inflight.has(l.key) && !memory.seen.has(l.key) && l.msg.size <= limits.messageBytes,
  );
}

/**
 * New messages to fetch, in listing order, within the per-run limits (the first message always
 * fits the byte limit, so a big one cannot block the account for ever). `recovered` are the
 * suspects found already delivered: they take no place.
 */
export function planFolder(
  listed: readonly Listed[],
  memory: Memory,
  limits: Limits,
  recovered: ReadonlySet<string> = new Set(),
): FolderPlan {
  const plan: FolderPlan = { fetch: [], tooBig: [], deferred: 0, held: [] };
  let bytes = 0;
  for (const l of listed) {
    if (memory.seen.has(l.key) || recovered.has(l.key)) continue;
    if (memory.held.has(l.key)) {
      plan.held.push(l);
      continue;
    }
    if (l.msg.size > limits.messageBytes) {
      plan.tooBig.push(l);
      continue;
    }
    if (
      plan.fetch.length >= limits.messages ||
      (plan.fetch.length > 0 && bytes + l.msg.size > limits.bytes)
    ) {
      plan.deferred++;
      continue;
    }
    plan.fetch.push(l);
    bytes += l.msg.size;
  }
  return plan;
}

function deletionDue(policy: ConnectorConfig['delete'], seenAt: number, now: number): boolean {
  if (policy === 'never') return false;
  if (policy === 'immediately') return true;
  return now - seenAt >= policy.afterDays * 86_400_000;
}

/**
 * Messages to delete on the server: only settled ones (in `seen`) whose time has come. A
 * failed or held message is never settled, so it is never deleted: nothing undelivered is lost.
 */
export function toDelete(
  listed: readonly Listed[],
  memory: Pick<Memory, 'seen' | 'held'>,
  policy: ConnectorConfig['delete'],
  now: number,
): Listed[] {
  return listed.filter((l) => {
    const at = memory.seen.get(l.key);
    return at !== undefined && !memory.held.has(l.key) && deletionDue(policy, at, now);
  });
}

/** Keys remembered for this folder but no longer listed (deleted on the server): to forget. */
export function toForget(remembered: Iterable<string>, prefix: string, listed: readonly Listed[]): string[] {
  const keys = new Set(listed.map((l) => l.key));
  return [...remembered].filter((k) => k.startsWith(prefix) && !keys.has(k));
}
