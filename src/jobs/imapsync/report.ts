/**
 * What a sync did, like imapsync's final report: per folder and in total, the messages on the
 * source, already in the destination, copied, flags updated, deleted on either side, refused,
 * bytes and rate, plus the work it took (commands and bytes read), and the typed outcome.
 */
import type { ReadCounters } from '../../mail/imap-sync-fetch.js';
import type { JobResult } from '../types.js';
import type { SyncOutcome } from './outcome.js';

/** What happened to the source messages, counted the same per folder and in total. */
export interface MessageCounts {
  alreadyThere: number;
  copied: number;
  flagsUpdated: number;
  deletedOnDestination: number;
  deletedOnSource: number;
  /** Refused by the destination (size, quota), or gone from the source while copying. */
  refused: number;
  /** Left out by `maxAgeDays`. */
  tooOld: number;
  /** Not copied: already in another folder of the task (crossFolderDedupe). */
  duplicates: number;
  bytes: number;
}

/** One folder pass: what was on the source and what happened to it. */
export interface FolderReport extends MessageCounts {
  source: string;
  destination: string;
  onSource: number;
  /** Nothing changed on either side since the last run: not even opened. */
  unchanged: boolean;
  error?: string;
  /** A dry run's list: the UIDs a real run would delete on each side (the first 1,000 of each). */
  wouldDelete?: { destination?: number[]; source?: number[] };
  /** A dry run's warning: a real run would stop at the deletion limit here. */
  deleteLimit?: string;
}

/** Commands and bytes, for "a rerun does far less work". */
export interface WorkCounters extends ReadCounters {
  appendCommands: number;
  storeCommands: number;
  reconnects: number;
}

/** The job's result: imapsync's final report, with the typed outcome. */
export interface ImapsyncResult extends JobResult, MessageCounts {
  task: string;
  outcome: SyncOutcome;
  dryRun: boolean;
  justFolders: boolean;
  testLogin: boolean;
  foldersOnSource: number;
  foldersSynced: number;
  foldersCreated: number;
  foldersExcluded: number;
  foldersFailed: number;
  messagesOnSource: number;
  durationMs: number;
  messagesPerSecond: number;
  megabytesPerSecond: number;
  folders: FolderReport[];
  excluded: { source: string; reason: string }[];
  /** Every folder whose destination automap or the task's folderMap chose, and which rule. */
  mappings: { source: string; destination: string; by: string }[];
  created: string[];
  /** The first errors, each with its folder (and UID). */
  errors: { folder: string; uid?: number; reason: string }[];
  work: WorkCounters;
}

const MAX_ERRORS = 50;

/**
 * What the passes of one folder in one run share besides its report, so that a reconnect does
 * not change the copied / alreadyThere split: a message this run appended is `copied`, even
 * when the connection dropped before the server's answer and the next pass finds it by identity.
 */
export class FolderTally {
  /** Source UIDs this run copied: APPEND answered OK, or found in the destination after an unanswered APPEND. */
  readonly copied = new Set<number>();
  /** Source UIDs whose APPEND was sent and never answered (the connection dropped): maybe stored. */
  readonly unanswered = new Set<number>();
}

/** A folder report with every count at zero. */
export function emptyFolderReport(source: string, destination: string): FolderReport {
  return {
    source,
    destination,
    onSource: 0,
    alreadyThere: 0,
    copied: 0,
    flagsUpdated: 0,
    deletedOnDestination: 0,
    deletedOnSource: 0,
    refused: 0,
    tooOld: 0,
    duplicates: 0,
    bytes: 0,
    unchanged: false,
  };
}

/** The running totals of one run; progress and the final result are read from it. */
export class SyncReport {
  readonly started = Date.now();
  readonly folders: FolderReport[] = [];
  readonly errors: ImapsyncResult['errors'] = [];
  readonly work: WorkCounters = {
    headerFetches: 0,
    flagFetches: 0,
    bodyFetches: 0,
    bodyBytes: 0,
    appendCommands: 0,
    storeCommands: 0,
    reconnects: 0,
  };
  /** Folders being synchronised now, their counts live. */
  readonly running = new Map<string, FolderReport>();
  /** Per folder pass: the bytes this run copies there (copied so far plus still to copy), once listed. */
  readonly planned = new Map<string, number>();
  excluded: ImapsyncResult['excluded'] = [];
  mappings: ImapsyncResult['mappings'] = [];
  created: string[] = [];
  foldersOnSource = 0;
  foldersTotal = 0;
  foldersDone = 0;
  messagesTotal = 0;
  quotaExceeded = false;
  errorCount = 0;

  error(folder: string, reason: string, uid?: number): void {
    this.errorCount++;
    if (this.errors.length < MAX_ERRORS) this.errors.push({ folder, ...(uid ? { uid } : {}), reason });
  }

  /** A folder's pass knows what it will copy: `bytes` more than `fr` holds already. */
  plan(fr: FolderReport, bytes: number): void {
    this.planned.set(fr.source, fr.bytes + bytes);
  }

  private sum(key: keyof FolderReport, withRunning = false): number {
    const all = withRunning ? [...this.folders, ...this.running.values()] : this.folders;
    return all.reduce((n, f) => n + (typeof f[key] === 'number' ? (f[key] as number) : 0), 0);
  }

  /** For `job.updateProgress`: where it is, how far, how fast, how long still. */
  progress(): Record<string, unknown> {
    const seconds = Math.max(0.001, (Date.now() - this.started) / 1000);
    const copied = this.sum('copied', true);
    const skipped = this.sum('alreadyThere', true);
    const done =
      copied + skipped + this.sum('refused', true) + this.sum('tooOld', true) + this.sum('duplicates', true);
    const rate = copied / seconds;
    const remaining = Math.max(0, this.messagesTotal - done);
    return {
      folder: [...this.running.keys()].join(', '),
      foldersDone: this.foldersDone,
      foldersTotal: this.foldersTotal,
      copied,
      skipped,
      total: this.messagesTotal,
      bytes: this.sum('bytes', true),
      // The bytes of the folders listed so far (`bytesTotalFinal` once every folder is).
      bytesTotal: [...this.planned.values()].reduce((n, b) => n + b, 0),
      bytesTotalFinal:
        this.planned.size + this.folders.filter((f) => f.unchanged).length >= this.foldersTotal,
      rate: Math.round(rate * 10) / 10,
      etaSeconds: rate > 0 ? Math.round(remaining / rate) : null,
    };
  }

  result(task: string, mode: { dryRun: boolean; justFolders: boolean; testLogin: boolean }): ImapsyncResult {
    const durationMs = Date.now() - this.started;
    const failed = this.folders.filter((f) => f.error !== undefined).length;
    const bytes = this.sum('bytes');
    const copied = this.sum('copied');
    const outcome: SyncOutcome = this.quotaExceeded
      ? 'quota_exceeded'
      : this.errorCount > 0 || failed > 0
        ? 'partial'
        : 'ok';
    return {
      task,
      outcome,
      ...mode,
      foldersOnSource: this.foldersOnSource,
      foldersSynced: this.folders.length - failed,
      foldersCreated: this.created.length,
      foldersExcluded: this.excluded.length,
      foldersFailed: failed,
      messagesOnSource: this.sum('onSource'),
      alreadyThere: this.sum('alreadyThere'),
      copied,
      flagsUpdated: this.sum('flagsUpdated'),
      deletedOnDestination: this.sum('deletedOnDestination'),
      deletedOnSource: this.sum('deletedOnSource'),
      refused: this.sum('refused'),
      tooOld: this.sum('tooOld'),
      duplicates: this.sum('duplicates'),
      bytes,
      durationMs,
      messagesPerSecond: Math.round((copied / Math.max(0.001, durationMs / 1000)) * 10) / 10,
      megabytesPerSecond: Math.round((bytes / 1048576 / Math.max(0.001, durationMs / 1000)) * 100) / 100,
      folders: this.folders,
      excluded: this.excluded,
      mappings: this.mappings,
      created: this.created,
      errors: this.errors,
      work: this.work,
    };
  }
}
