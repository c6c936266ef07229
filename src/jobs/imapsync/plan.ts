/** Which folder passes a run has: both trees listed, mapped, and the destination prepared. */
import { createFolders, listTree, selectable } from '../../mail/imap-sync-list.js';
import { isAllMail, isGmailTree, mapFolders } from './folder-map.js';
import type { JobContext } from '../types.js';
import type { FolderJob } from './folder-types.js';
import type { SyncReport } from './report.js';
import type { SessionPair } from './sessions.js';
import type { ResolvedTask } from './task.js';

/**
 * Lists both sides (with their status, in one round trip each where the server has LIST-STATUS),
 * maps the folders, creates and subscribes the missing destination folders (a dry run only
 * reports them), and returns the folder passes to run, largest first.
 */
export async function planFolders(
  task: ResolvedTask,
  ctx: JobContext,
  pair: SessionPair,
  report: SyncReport,
): Promise<FolderJob[]> {
  const [src, dst] = await Promise.all([
    listTree(pair.src, { status: true }),
    listTree(pair.dst, { status: true }),
  ]);
  const o = task.options;
  const dedupe =
    o.crossFolderDedupe === 'auto' ? isGmailTree(src.folders, src.namespace) : o.crossFolderDedupe;
  const { mappings, excluded } = mapFolders(src.folders, src.namespace, dst.folders, dst.namespace, {
    ...o,
    skipGmailViews: dedupe,
  });
  report.excluded = excluded;
  report.mappings = mappings.flatMap((m) =>
    m.by ? [{ source: m.source, destination: m.destination, by: m.by }] : [],
  );
  if (report.mappings.length > 0) {
    await ctx.trail(
      `mapped: ${report.mappings.map((m) => `${m.source} → ${m.destination} (${m.by})`).join(', ')}`,
    );
  }
  report.foldersOnSource = src.folders.filter(selectable).length;
  const key = (p: string): string => (p.toUpperCase() === 'INBOX' ? 'INBOX' : p);
  const existing = new Map(dst.folders.filter(selectable).map((f) => [key(f.path), f]));
  const missing = [...new Set(mappings.map((m) => m.destination).filter((d) => !existing.has(key(d))))];
  const unsubscribed = [...new Set(mappings.map((m) => existing.get(key(m.destination))))]
    .filter((f) => f !== undefined && !f.subscribed && key(f.path) !== 'INBOX')
    .map((f) => f!.path);
  report.created = task.options.dryRun
    ? missing
    : await createFolders(pair.dst, missing, unsubscribed, dst.namespace.delimiter);
  const bySource = new Map(src.folders.map((f) => [f.path, f]));
  const jobs: FolderJob[] = mappings.map((m) => {
    const there = existing.get(key(m.destination));
    const srcStatus = bySource.get(m.source)?.status;
    return {
      source: m.source,
      destination: m.destination,
      dstExists: there !== undefined || !task.options.dryRun,
      dedupe,
      allMail: dedupe && isAllMail(bySource.get(m.source)!, src.namespace),
      ...(srcStatus ? { srcStatus } : {}),
      ...(there?.status ? { dstStatus: there.status } : {}),
    };
  });
  report.foldersTotal = jobs.length;
  report.messagesTotal = jobs.reduce((n, j) => n + (j.srcStatus?.messages ?? 0), 0);
  if (report.created.length > 0) {
    await ctx.trail(`${task.options.dryRun ? 'would create' : 'created'}: ${report.created.join(', ')}`);
  }
  // Largest first, so the longest folder does not start last.
  return jobs.sort((a, b) => (b.srcStatus?.messages ?? 0) - (a.srcStatus?.messages ?? 0));
}
