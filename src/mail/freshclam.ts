/**
 * ClamAV's `freshclam`, run once with the admin's freshclam.conf (`--config-file`), as an
 * argument array (never a shell); its output is parsed by freshclam-report.ts.
 */
import { spawn } from 'node:child_process';
import { PermanentJobError } from '../core/errors.js';
import { parseFreshclamOutput, type FreshclamReport } from './freshclam-report.js';

export {
  parseFreshclamOutput,
  type FreshclamDatabase,
  type FreshclamProblem,
  type FreshclamProblemCode,
  type FreshclamReport,
} from './freshclam-report.js';

export interface FreshclamRunOptions {
  /** The freshclam program (PATH lookup unless absolute). */
  command: string;
  configFile: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** freshclam's output is a few dozen lines; keep at most this much of it. */
const MAX_OUTPUT = 256 * 1024;

/**
 * Runs `freshclam --config-file=FILE --stdout` once and parses its report. Rejects only when
 * freshclam cannot be started (`ENOFRESHCLAM`) or is aborted; freshclam's own failures, and a
 * run stopped after `timeoutMs`, are in `report.problem`.
 */
export async function runFreshclam(opts: FreshclamRunOptions): Promise<FreshclamReport> {
  opts.signal?.throwIfAborted();
  // --stdout: messages in order on one stream (warnings would go to stderr otherwise).
  const args = [`--config-file=${opts.configFile}`, '--stdout'];
  // Its own process group, so a timeout or an abort stops whatever it started too (a wrapper
  // script's children would otherwise hold the pipes open).
  const child = spawn(opts.command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const collect = (d: Buffer): void => {
    if (output.length < MAX_OUTPUT) output += d.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let stopped: 'timeout' | 'abort' | undefined;
  let hardKill: NodeJS.Timeout | undefined;
  const signalGroup = (sig: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, sig);
    } catch {
      // already gone
    }
  };
  const stop = (why: 'timeout' | 'abort'): void => {
    stopped ??= why;
    signalGroup('SIGTERM'); // freshclam removes its temporary files on SIGTERM
    hardKill ??= setTimeout(() => signalGroup('SIGKILL'), 10_000);
  };
  const timer = setTimeout(() => stop('timeout'), opts.timeoutMs);
  const onAbort = (): void => stop('abort');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
      throw new PermanentJobError(
        `${opts.command} not found (freshclam.command; Debian package clamav-freshclam)`,
        'ENOFRESHCLAM',
      );
    });
    if (stopped === 'abort') throw opts.signal?.reason ?? new Error('freshclam aborted');
    const report = parseFreshclamOutput(output, exitCode);
    if (stopped === 'timeout') {
      report.problem = {
        code: 'EFRESHCLAM',
        message: `freshclam did not finish within ${Math.round(opts.timeoutMs / 1000)} s`,
        retryable: true,
      };
    }
    return report;
  } finally {
    clearTimeout(timer);
    clearTimeout(hardKill);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
