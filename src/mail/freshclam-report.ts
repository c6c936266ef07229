/**
 * What freshclam reports, parsed into a typed result: databases updated or already up to date,
 * whether clamd was notified, and what went wrong, classified:
 *  - `EMIRROR`     mirror or custom URL unreachable, or mirrors out of sync: retry later;
 *  - `ELOCKED`     another freshclam holds the lock (e.g. the clamav-freshclam daemon): retry;
 *  - `ECOOLDOWN`   the ClamAV CDN rate-limited us (HTTP 429/403): retrying makes it worse;
 *  - `ETESTFAILED` a downloaded database failed clamd's load test (the old one stays): no retry;
 *  - `ECONFIG`     freshclam.conf unreadable or invalid, database folder not writable: no retry;
 *  - `EFRESHCLAM`  anything else freshclam reports as a failure: retry.
 * Exit codes are libfreshclam's `fc_error_t` (libfreshclam.h); texts break ties.
 */

/** One database freshclam reported on. */
export interface FreshclamDatabase {
  /** File name, e.g. `daily.cld`, `main.cvd`, `extra.hdb`. */
  name: string;
  status: 'updated' | 'up-to-date';
  /** CVD version; absent for custom databases (`version: custom database`). */
  version?: number;
  signatures?: number;
}

export type FreshclamProblemCode =
  'EMIRROR' | 'ELOCKED' | 'ECOOLDOWN' | 'ETESTFAILED' | 'ECONFIG' | 'EFRESHCLAM';

export interface FreshclamProblem {
  code: FreshclamProblemCode;
  /** One line for the admin: what kind of failure, then freshclam's own error lines. */
  message: string;
  /** False when a retry cannot help (or, for a cool-down, would make it worse). */
  retryable: boolean;
  /** Cool-down end, as freshclam printed it (its local time). */
  until?: string;
}

export interface FreshclamReport {
  exitCode: number | null;
  databases: FreshclamDatabase[];
  /** true: "Clamd successfully notified"; false: "Clamd was NOT notified"; absent: no NotifyClamd or nothing to notify. */
  clamdNotified?: boolean;
  warnings: string[];
  errors: string[];
  problem?: FreshclamProblem;
}

const LABELS: Record<FreshclamProblemCode, string> = {
  EMIRROR: 'the mirror could not be reached',
  ELOCKED: 'another freshclam is running',
  ECOOLDOWN: 'the ClamAV CDN rate-limited this server',
  ETESTFAILED: 'a downloaded database failed its test (the old database stays)',
  ECONFIG: 'freshclam configuration error',
  EFRESHCLAM: 'freshclam failed',
};

// libfreshclam's fc_error_t values, as freshclam's exit code.
const BY_EXIT_CODE: Record<number, FreshclamProblemCode> = {
  3: 'ECONFIG', // FC_EDIRECTORY
  5: 'EMIRROR', // FC_ECONNECTION
  6: 'ETESTFAILED', // FC_EEMPTYFILE
  7: 'ETESTFAILED', // FC_EBADCVD
  8: 'ETESTFAILED', // FC_ETESTFAIL
  9: 'ECONFIG', // FC_ECONFIG
  10: 'ECONFIG', // FC_EDBDIRACCESS
  11: 'EMIRROR', // FC_EFAILEDGET
  12: 'EMIRROR', // FC_EMIRRORNOTSYNC
  16: 'ECONFIG', // FC_EARG
  17: 'ECOOLDOWN', // FC_EFORBIDDEN
  18: 'ECOOLDOWN', // FC_ERETRYLATER
};

/** Removes LogTime's date prefix and the log file's `^` (warning) / `!` (error) markers. */
function clean(line: string): string {
  return line
    .replace(/^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} -> /, '')
    .replace(/^[!^]/, '')
    .trim();
}

const DB_LINE =
  /^(\S+?)(?: database)? (updated|is up[- ]to[- ]date) \(version: ([^,)]+)(?:, sigs: (\d+))?[^)]*\)/;

/** Parses freshclam's output (stdout and stderr together) and exit code. */
export function parseFreshclamOutput(output: string, exitCode: number | null): FreshclamReport {
  const report: FreshclamReport = { exitCode, databases: [], warnings: [], errors: [] };
  let until: string | undefined;
  for (const raw of output.split('\n')) {
    const line = clean(raw);
    if (!line) continue;
    const level = /^(WARNING|ERROR): ?(.*)$/.exec(line);
    const text = level ? level[2]!.trim() : line;
    if (level?.[1] === 'ERROR' && text && !/^(Update failed\.|Initialization error!)$/.test(text)) {
      if (!report.errors.includes(text)) report.errors.push(text);
    } else if (level?.[1] === 'WARNING' && text && !report.warnings.includes(text))
      report.warnings.push(text);
    const db = DB_LINE.exec(text);
    if (db) {
      const version = Number(db[3]);
      report.databases.push({
        name: db[1]!,
        status: db[2] === 'updated' ? 'updated' : 'up-to-date',
        ...(Number.isInteger(version) ? { version } : {}),
        ...(db[4] ? { signatures: Number(db[4]) } : {}),
      });
    }
    if (/^Clamd successfully notified/.test(text)) report.clamdNotified = true;
    if (/^Clamd was NOT notified/.test(text)) report.clamdNotified = false;
    const cool = /cool-down until after: (.+)$/.exec(text);
    if (cool) until = cool[1]!.trim();
  }
  const problem = classify(report, output, until);
  if (problem) report.problem = problem;
  return report;
}

function classify(report: FreshclamReport, output: string, until?: string): FreshclamProblem | undefined {
  // "Still on cool-down" exits 0, yet nothing was updated: that is a failure for the admin.
  const ok = report.exitCode === 0 || report.exitCode === 1; // 1: FC_UPTODATE
  if (ok && until === undefined) return undefined;
  let code: FreshclamProblemCode =
    until !== undefined ? 'ECOOLDOWN' : (BY_EXIT_CODE[report.exitCode ?? -1] ?? 'EFRESHCLAM');
  if (code === 'EFRESHCLAM') {
    if (/Failed to lock/i.test(output)) code = 'ELOCKED';
    else if (/config file|Parse error at/i.test(output)) code = 'ECONFIG';
    else if (/Can't download|Download failed|Connection failed/i.test(output)) code = 'EMIRROR';
  }
  const details = report.errors.length > 0 ? report.errors : report.warnings.slice(-3);
  const tail = until !== undefined ? `until after ${until}` : details.join('; ');
  const message = `${LABELS[code]}${tail ? `: ${tail}` : ''}`.slice(0, 1000);
  return {
    code,
    message,
    retryable: code === 'EMIRROR' || code === 'ELOCKED' || code === 'EFRESHCLAM',
    ...(until !== undefined ? { until } : {}),
  };
}
