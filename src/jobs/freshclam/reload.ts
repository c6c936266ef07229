/**
 * After freshclam: make sure clamd runs the database that is on disk. clamd answers RELOAD at
 * once and reloads in the background (tens of seconds for the official database, scans go on
 * with the old engine meanwhile), so the only proof is `VERSION` showing the new daily version.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ProtocolError } from '../../core/errors.js';
import type { ClamdVersion } from '../../mail/clamd.js';

/** What the job needs of clamd (a `ClamdClient`, or a fake in unit tests). */
export interface ClamdControl {
  version(opts?: { signal?: AbortSignal }): Promise<ClamdVersion>;
  reload(opts?: { signal?: AbortSignal }): Promise<void>;
}

/**
 * `not-needed`: nothing changed and clamd runs what is on disk; `confirmed`: VERSION shows the
 * daily version on disk; `unverifiable`: only databases without a version (custom .hdb/.ndb...,
 * main, bytecode) changed, which VERSION does not reflect; clamd was told to reload.
 */
export type ReloadOutcome = 'not-needed' | 'confirmed' | 'unverifiable';

export interface ClamdSync {
  version: ClamdVersion;
  reload: ReloadOutcome;
  /** We sent RELOAD (freshclam did not notify clamd, or clamd lagged behind the disk). */
  reloadSent: boolean;
  waitedMs: number;
}

export interface SyncInput {
  /** daily version on disk after freshclam, if any daily database is there. */
  onDisk: number | undefined;
  /** Database files freshclam updated in this run. */
  updated: readonly string[];
  /** freshclam's own NotifyClamd outcome. */
  notified: boolean | undefined;
  timeoutMs: number;
  pollMs?: number;
  signal?: AbortSignal;
}

/** Reloads clamd when needed and waits (bounded) until VERSION shows the daily version on disk. */
export async function syncClamd(clamd: ClamdControl, input: SyncInput): Promise<ClamdSync> {
  const { onDisk, updated, signal } = input;
  let version = await clamd.version({ signal });
  const behind = onDisk !== undefined && (version.dbVersion ?? 0) < onDisk;
  if (updated.length === 0 && !behind)
    return { version, reload: 'not-needed', reloadSent: false, waitedMs: 0 };
  // freshclam tells clamd itself with NotifyClamd. Without it (or when it failed), or when clamd
  // runs an older database than the disk holds though nothing changed now, we send RELOAD.
  const reloadSent = updated.length === 0 || input.notified !== true;
  if (reloadSent) await clamd.reload({ signal });
  const dailyChanged = updated.some((name) => name.startsWith('daily.'));
  if (onDisk === undefined || (!behind && !dailyChanged)) {
    return { version, reload: 'unverifiable', reloadSent, waitedMs: 0 };
  }
  const started = Date.now();
  while ((version.dbVersion ?? 0) < onDisk) {
    if (Date.now() - started >= input.timeoutMs) {
      throw new ProtocolError(
        `clamd still runs database version ${version.dbVersion ?? 'none'} ${Math.round(input.timeoutMs / 1000)} s after the update; version ${onDisk} is on disk (check clamd's log; freshclam.reloadTimeoutSeconds)`,
        'ERELOAD',
      );
    }
    await sleep(input.pollMs ?? 500, undefined, { signal });
    version = await clamd.version({ signal });
  }
  return { version, reload: 'confirmed', reloadSent, waitedMs: Date.now() - started };
}
