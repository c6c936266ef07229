/**
 * Which flags can be carried over: `\Recent` never (RFC 3501 2.3.2: only the server sets it),
 * and of the rest only what the destination folder stores permanently (its PERMANENTFLAGS,
 * RFC 3501 7.1; `\*` allows any keyword). A keyword the destination cannot keep is dropped
 * rather than failing the copy.
 */
import type { ImapFlow } from 'imapflow';
import { imapStep, refused } from './imap-errors.js';
import { uidSets } from './imap-folders.js';
import { type ReadCounters, fetchFlags } from './imap-sync-fetch.js';

const SYSTEM_FLAGS = new Set(['\\seen', '\\answered', '\\flagged', '\\deleted', '\\draft']);

/**
 * `flags` restricted to what the destination keeps. `permanent` empty or absent means the
 * server did not say (and a read-only selection reports none): then only `\Recent` is dropped.
 */
export function storableFlags(flags: Iterable<string>, permanent?: ReadonlySet<string>): string[] {
  const allowed = new Set([...(permanent ?? [])].map((f) => f.toLowerCase()));
  const unknown = allowed.size === 0;
  const out = new Set<string>();
  for (const flag of flags) {
    const lower = flag.toLowerCase();
    if (lower === '\\recent') continue;
    const system = SYSTEM_FLAGS.has(lower);
    if (flag.startsWith('\\') && !system) continue; // an unknown system flag cannot be set
    if (unknown || allowed.has(lower) || (!system && allowed.has('\\*'))) out.add(flag);
  }
  return [...out].sort();
}

/** Same flags, ignoring case and order (flags and keywords are case-insensitive, RFC 3501 2.3.2). */
export function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  const norm = (x: readonly string[]): string => [...new Set(x.map((f) => f.toLowerCase()))].sort().join(' ');
  return norm(a) === norm(b);
}

/**
 * Makes the flags of destination messages what `wanted` says (UID → source flags), where they
 * differ: one `UID STORE ... FLAGS (...)` per set of messages that get the same flags. Returns
 * how many messages changed (or would, with `dryRun`).
 */
export async function storeFlagChanges(
  client: ImapFlow,
  wanted: ReadonlyMap<number, readonly string[]>,
  permanent: ReadonlySet<string> | undefined,
  counters: ReadCounters & { storeCommands: number },
  dryRun: boolean,
): Promise<{ changed: number }> {
  const current = await fetchFlags(client, [...wanted.keys()], counters);
  const groups = new Map<string, { flags: string[]; uids: number[] }>();
  for (const [uid, flags] of wanted) {
    const have = current.get(uid);
    if (!have) continue; // expunged meanwhile
    const target = storableFlags(flags, permanent);
    if (
      sameFlags(
        target,
        have.filter((f) => f.toLowerCase() !== '\\recent'),
      )
    )
      continue;
    const key = target.join(' ');
    const group = groups.get(key) ?? { flags: target, uids: [] };
    group.uids.push(uid);
    groups.set(key, group);
  }
  let changed = 0;
  for (const { flags, uids } of groups.values()) {
    changed += uids.length;
    if (dryRun) continue;
    for (const set of uidSets(uids)) {
      counters.storeCommands++;
      if (!(await imapStep(client, () => client.messageFlagsSet(set, flags, { uid: true })))) {
        throw refused(client, `UID STORE ${set} FLAGS`);
      }
    }
  }
  return { changed };
}
