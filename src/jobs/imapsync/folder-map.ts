/**
 * Which source folder goes to which destination folder: pure functions, no I/O. Translates the
 * hierarchy separator and the personal namespace prefix (RFC 2342: `INBOX.` on Courier and
 * Cyrus, none on Dovecot), maps special-use folders (RFC 6154 attributes, or well-known names
 * on servers without them) to the destination's own Sent, Drafts, Junk, Trash and Archive, and
 * applies the task's include/exclude rules.
 */
import { MAX_MATCHED_NAME } from '../../config/regex-cost.js';
import {
  type ListedFolder,
  type NamespaceInfo,
  hasAttribute,
  selectable,
} from '../../mail/imap-sync-list.js';

/** The special uses that are mapped onto the destination's own folder (RFC 6154). */
export type SpecialUse = '\\Sent' | '\\Drafts' | '\\Junk' | '\\Trash' | '\\Archive';
const SPECIAL_USES: readonly SpecialUse[] = ['\\Sent', '\\Drafts', '\\Junk', '\\Trash', '\\Archive'];

/** The name a special-use folder gets when the destination has none yet. */
export const DEFAULT_NAMES: Record<SpecialUse, string> = {
  '\\Sent': 'Sent',
  '\\Drafts': 'Drafts',
  '\\Junk': 'Junk',
  '\\Trash': 'Trash',
  '\\Archive': 'Archive',
};

/** Names clients and servers give these folders, for servers without SPECIAL-USE attributes. */
const KNOWN_NAMES: Record<SpecialUse, readonly string[]> = {
  '\\Sent': [
    'sent',
    'sent items',
    'sent messages',
    'sent mail',
    'sent-mail',
    'gesendet',
    'gesendete objekte',
    'gesendete elemente',
    'envoyés',
    'éléments envoyés',
    'messages envoyés',
    'posta inviata',
    'inviati',
    'elementi inviati',
    'enviados',
    'elementos enviados',
    'verzonden',
    'verzonden items',
    'skickat',
    'wysłane',
    'odeslaná pošta',
    '[gmail]/sent mail',
  ],
  '\\Drafts': [
    'drafts',
    'draft',
    'entwürfe',
    'brouillons',
    'bozze',
    'borradores',
    'concepten',
    'utkast',
    'kopie robocze',
    'koncepty',
    '[gmail]/drafts',
  ],
  '\\Junk': [
    'junk',
    'spam',
    'junk e-mail',
    'junk email',
    'junk mail',
    'bulk mail',
    'junk-e-mail',
    'spamverdacht',
    'courrier indésirable',
    'indésirables',
    'posta indesiderata',
    'correo no deseado',
    'ongewenste e-mail',
    'skräppost',
    '[gmail]/spam',
  ],
  '\\Trash': [
    'trash',
    'deleted items',
    'deleted messages',
    'deleted',
    'bin',
    'papierkorb',
    'gelöschte objekte',
    'gelöschte elemente',
    'corbeille',
    'éléments supprimés',
    'cestino',
    'posta eliminata',
    'elementi eliminati',
    'papelera',
    'elementos eliminados',
    'prullenbak',
    'verwijderde items',
    'papperskorgen',
    'kosz',
    'koš',
    '[gmail]/trash',
    '[gmail]/bin',
  ],
  '\\Archive': [
    'archive',
    'archives',
    'archiv',
    'archivio',
    'archivo',
    'archief',
    'arkiv',
    'archiwum',
    '[gmail]/all mail',
  ],
};

/** The task options that decide which folders go where. */
export interface FolderRules {
  exclude: readonly string[];
  include?: readonly string[] | undefined;
  otherNamespaces: boolean;
  trash: boolean;
  subfolder?: string | undefined;
  /** Map special-use folders onto the destination's own (default true). */
  automap?: boolean;
  /** Renames after automap: exact source names ('/' between levels), then rewrites of the destination path. */
  folderMap?: {
    names: Readonly<Record<string, string>>;
    rewrite: readonly { match: string; replace: string }[];
  };
  /** Skip Gmail's views that only repeat messages (`[Gmail]/Important`, `[Gmail]/Starred`). */
  skipGmailViews?: boolean;
}

/** A source folder and the destination folder it goes to. */
export interface FolderMapping {
  source: string;
  destination: string;
  /** The special use this folder was mapped by, if any. */
  specialUse?: SpecialUse;
  /** What chose the destination, when not the plain name: `automap \Sent`, `folderMap`, `rewrite <pattern>`. */
  by?: string;
}

/** A source folder left out, and why. */
export interface ExcludedFolder {
  source: string;
  reason:
    | 'not selectable'
    | 'other namespace'
    | 'name too long'
    | 'excluded'
    | 'not included'
    | 'trash'
    | 'name collision'
    | 'gmail view';
}

/** The special use a folder's own attributes announce (RFC 6154), if one we map. */
export function announcedSpecialUse(folder: ListedFolder): SpecialUse | undefined {
  return SPECIAL_USES.find((u) => hasAttribute(folder.flags, u));
}

const isInbox = (path: string): boolean => path.toUpperCase() === 'INBOX';

/** The path below the personal namespace prefix (`INBOX.Sent` → `Sent` on Courier). */
function relative(path: string, ns: NamespaceInfo): string {
  if (isInbox(path)) return 'INBOX';
  return ns.prefix && path.startsWith(ns.prefix) ? path.slice(ns.prefix.length) : path;
}

function knownNameUse(rel: string): SpecialUse | undefined {
  const name = rel.toLowerCase().normalize('NFC');
  return SPECIAL_USES.find((u) => KNOWN_NAMES[u].includes(name));
}

/** Per special use, the one source folder mapped by it: announced first, else the first known name. */
function chooseSpecial(folders: ListedFolder[], ns: NamespaceInfo): Map<string, SpecialUse> {
  const chosen = new Map<SpecialUse, string>();
  for (const f of folders) {
    const use = announcedSpecialUse(f);
    if (use && !chosen.has(use)) chosen.set(use, f.path);
  }
  for (const f of folders) {
    const rel = relative(f.path, ns);
    const use = knownNameUse(levels(rel, ns.delimiter));
    // Only top-level names (or Gmail's [Gmail]/...): "Projects/Sent" is an ordinary folder.
    if (use && !chosen.has(use) && (!rel.includes(ns.delimiter) || rel.startsWith('[Gmail]')))
      chosen.set(use, f.path);
  }
  return new Map([...chosen].map(([use, path]) => [path, use]));
}

/** The destination path of `source` under the destination's conventions. */
function destinationPath(
  source: ListedFolder,
  use: SpecialUse | undefined,
  srcNs: NamespaceInfo,
  dst: { ns: NamespaceInfo; special: Map<SpecialUse, string> },
  subfolder: string | undefined,
): string {
  const sep = dst.ns.delimiter;
  // A name holding the destination's separator would become two levels: keep it one level.
  const clean = (part: string): string => (sep ? part.split(sep).join('_') : part);
  const sub = subfolder ? subfolder.split('/').map(clean) : [];
  const rel = relative(source.path, srcNs);
  if (isInbox(rel) && !subfolder) return 'INBOX';
  if (isInbox(rel)) return dst.ns.prefix + sub.join(sep);
  if (use && !subfolder) return dst.special.get(use) ?? dst.ns.prefix + DEFAULT_NAMES[use];
  const parts = srcNs.delimiter ? rel.split(srcNs.delimiter) : [rel];
  return dst.ns.prefix + [...sub, ...parts.map(clean)].join(sep);
}

/**
 * Maps every source folder to a destination folder, or says why it is left out: not
 * selectable, in another namespace, excluded or not included by the task's rules (regular
 * expressions on the source path; a path too long to match them at a bounded cost is left out), Trash when Trash is off, or a second source folder that
 * would land on the same destination folder.
 */
export function mapFolders(
  source: readonly ListedFolder[],
  srcNs: NamespaceInfo,
  destination: readonly ListedFolder[],
  dstNs: NamespaceInfo,
  rules: FolderRules,
): { mappings: FolderMapping[]; excluded: ExcludedFolder[] } {
  const excluded: ExcludedFolder[] = [];
  const exclude = rules.exclude.map((r) => new RegExp(r, 'u'));
  const include = rules.include?.map((r) => new RegExp(r, 'u'));
  // The patterns' cost is bounded for names up to this length (config/regex-cost.ts).
  const tooLong = (f: ListedFolder) =>
    (exclude.length > 0 || include !== undefined) && f.path.length > MAX_MATCHED_NAME;
  const candidates = source.filter((f) => {
    const reason = !selectable(f)
      ? 'not selectable'
      : !rules.otherNamespaces && srcNs.otherPrefixes.some((p) => p !== '' && f.path.startsWith(p))
        ? 'other namespace'
        : tooLong(f)
          ? 'name too long'
          : exclude.some((r) => r.test(f.path))
            ? 'excluded'
            : include && !include.some((r) => r.test(f.path))
              ? 'not included'
              : undefined;
    if (reason) excluded.push({ source: f.path, reason });
    return !reason;
  });
  const special = rules.automap === false ? new Map<string, SpecialUse>() : chooseSpecial(candidates, srcNs);
  const rewrites = (rules.folderMap?.rewrite ?? []).map((r) => ({ ...r, re: new RegExp(r.match, 'u') }));
  const dstSpecial = new Map<SpecialUse, string>();
  for (const f of destination) {
    const use = announcedSpecialUse(f);
    if (use && selectable(f) && !dstSpecial.has(use)) dstSpecial.set(use, f.path);
  }
  const mappings: FolderMapping[] = [];
  const taken = new Set<string>();
  for (const f of candidates) {
    const use = special.get(f.path);
    if (use === '\\Trash' && !rules.trash) {
      excluded.push({ source: f.path, reason: 'trash' });
      continue;
    }
    if (rules.skipGmailViews && isGmailView(f, srcNs)) {
      excluded.push({ source: f.path, reason: 'gmail view' });
      continue;
    }
    let dest = destinationPath(f, use, srcNs, { ns: dstNs, special: dstSpecial }, rules.subfolder);
    let by = use && !rules.subfolder ? `automap ${use}` : undefined;
    const named = rules.folderMap?.names[levels(relative(f.path, srcNs), srcNs.delimiter)];
    if (named !== undefined) [dest, by] = [toPath(named, dstNs), 'folderMap'];
    const rel = levels(relative(dest, dstNs), dstNs.delimiter);
    const rule = rel.length <= MAX_MATCHED_NAME ? rewrites.find((r) => r.re.test(rel)) : undefined;
    const rewritten = rule ? rel.replace(rule.re, rule.replace) : undefined;
    if (rule && rewritten && rewritten.split('/').every((p) => p.trim() !== ''))
      [dest, by] = [toPath(rewritten, dstNs), `rewrite ${rule.match}`];
    const key = isInbox(dest) ? 'INBOX' : dest;
    if (taken.has(key)) {
      excluded.push({ source: f.path, reason: 'name collision' });
      continue;
    }
    taken.add(key);
    const mappedBy = use && !rules.subfolder ? { specialUse: use } : {};
    mappings.push({ source: f.path, destination: dest, ...mappedBy, ...(by ? { by } : {}) });
  }
  return { mappings, excluded };
}

/** A path with its levels joined by '/' (how folderMap names them), whatever the separator. */
function levels(rel: string, delimiter: string): string {
  return delimiter && delimiter !== '/' ? rel.split(delimiter).join('/') : rel;
}

/** A '/'-separated folderMap name as a destination path (a level holding the separator stays one). */
function toPath(name: string, ns: NamespaceInfo): string {
  if (isInbox(name)) return 'INBOX';
  const sep = ns.delimiter;
  const parts = name.split('/').map((p) => (sep && sep !== '/' ? p.split(sep).join('_') : p));
  return ns.prefix + parts.join(sep || '/');
}

/** True when the source looks like Gmail: a `[Gmail]` or `[Google Mail]` folder at the top. */
export function isGmailTree(folders: readonly ListedFolder[], ns: NamespaceInfo): boolean {
  return folders.some((f) =>
    /^\[(Gmail|Google Mail)\]$/i.test(relative(f.path, ns).split(ns.delimiter || '/')[0]!),
  );
}

/** Gmail's views that only repeat messages kept elsewhere: Important and Starred. */
function isGmailView(f: ListedFolder, ns: NamespaceInfo): boolean {
  if (hasAttribute(f.flags, '\\Important') || hasAttribute(f.flags, '\\Flagged')) return true;
  const rel = levels(relative(f.path, ns), ns.delimiter).toLowerCase();
  return /^\[(gmail|google mail)\]\/(important|starred|wichtig|markiert)$/.test(rel);
}

/** Gmail's All Mail (`\All`, or by name): every message again, so synchronised last. */
export function isAllMail(f: ListedFolder, ns: NamespaceInfo): boolean {
  if (hasAttribute(f.flags, '\\All')) return true;
  const rel = levels(relative(f.path, ns), ns.delimiter).toLowerCase();
  return /^\[(gmail|google mail)\]\/(all mail|alle nachrichten)$/.test(rel);
}
