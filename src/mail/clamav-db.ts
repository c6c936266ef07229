/**
 * What the freshclam job reads from disk: two settings of freshclam.conf (where the databases
 * are, whether freshclam notifies clamd itself) and the version in a CVD/CLD/CUD header, i.e.
 * the version clamd's `VERSION` must show once it has loaded the new database.
 */
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { PermanentJobError } from '../core/errors.js';

/** The freshclam.conf settings the job needs. */
export interface FreshclamSettings {
  /** `DatabaseDirectory` (freshclam's built-in default on Debian: /var/lib/clamav). */
  databaseDirectory: string;
  /** `NotifyClamd`: the clamd.conf freshclam uses to send RELOAD after an update. */
  notifyClamd?: string;
}

const DEFAULT_DATABASE_DIRECTORY = '/var/lib/clamav';

/** Reads freshclam.conf; a missing or unreadable file is `ECONFIG`, naming the file. */
export async function readFreshclamSettings(file: string): Promise<FreshclamSettings> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new PermanentJobError(
      `cannot read freshclam.configFile "${file}": ${reason} (Debian: install clamav-freshclam)`,
      'ECONFIG',
    );
  }
  const settings: FreshclamSettings = { databaseDirectory: DEFAULT_DATABASE_DIRECTORY };
  for (const line of text.split('\n')) {
    const m = /^\s*(\w+)\s+(.+?)\s*$/.exec(line);
    if (!m || line.trimStart().startsWith('#')) continue;
    const value = m[2]!.replace(/^"(.*)"$/, '$1');
    if (m[1] === 'DatabaseDirectory') settings.databaseDirectory = value;
    if (m[1] === 'NotifyClamd') settings.notifyClamd = value;
  }
  return settings;
}

/**
 * The version in a database file's 512-byte header
 * (`ClamAV-VDB:<build time>:<version>:<sigs>:<f-level>:<md5>:<dsig>:<builder>:<stime>`),
 * or undefined when the file is missing or has no such header.
 */
export async function readDatabaseVersion(file: string): Promise<number | undefined> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(512), 0, 512, 0);
    const header = buffer.subarray(0, bytesRead).toString('latin1');
    const m = /^ClamAV-VDB:[^:]*:(\d+):/.exec(header);
    return m ? Number(m[1]) : undefined;
  } finally {
    await handle.close();
  }
}

/**
 * The newest `daily` database version in `dir` (daily.cld, daily.cvd or daily.cud): clamd
 * reports this one in `VERSION` once it is loaded.
 */
export async function readDailyVersion(dir: string): Promise<number | undefined> {
  const versions = await Promise.all(
    ['daily.cld', 'daily.cvd', 'daily.cud'].map((f) => readDatabaseVersion(path.join(dir, f))),
  );
  const known = versions.filter((v): v is number => v !== undefined);
  return known.length > 0 ? Math.max(...known) : undefined;
}
