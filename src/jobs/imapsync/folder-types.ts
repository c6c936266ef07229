/**
 * The types a folder pass shares between its parts, so imports run one way: folder.ts uses
 * copy.ts and folder-end.ts, and all three use these.
 */
import type { FolderStatus } from '../../mail/imap-sync-list.js';
import type { JobContext } from '../types.js';
import type { SyncReport } from './report.js';
import type { FolderCheckpoint, SyncStateStore } from './state.js';
import type { ResolvedTask } from './task.js';

/** What every folder pass of a run shares. */
export interface RunScope {
  task: ResolvedTask;
  ctx: JobContext;
  signal: AbortSignal;
  state: SyncStateStore;
  report: SyncReport;
  checkpoints: ReadonlyMap<string, FolderCheckpoint>;
  /** Reports progress (throttled). */
  tick(): void;
}

/** One folder pass to run: the mapping and both sides' status from the listing. */
export interface FolderJob {
  source: string;
  destination: string;
  srcStatus?: FolderStatus;
  dstStatus?: FolderStatus;
  /** False only in a dry run, for a destination folder that would be created. */
  dstExists: boolean;
  /** A message already in another folder of the run is not copied again (crossFolderDedupe). */
  dedupe?: boolean;
  /** Gmail's All Mail: synchronised after every other folder when deduplicating. */
  allMail?: boolean;
}

/** What a copy pass appended. */
export interface CopyResult {
  /** Source UID → destination UID of every message copied (with UIDPLUS). */
  pairs: { src: number; dst: number }[];
  /** Some copies' destination UIDs are unknown (no UIDPLUS): the destination must be re-read next time. */
  unknownUids: boolean;
}
