/**
 * Measuring child processes: wall time, peak RSS (`/usr/bin/time`'s `%M` when installed, else
 * the child's VmHWM polled from /proc), exit status and output. Every child runs in its own
 * process group, so a timeout kills it and whatever it started, and nothing else.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const GNU_TIME = '/usr/bin/time';

/** How a measured run ended. */
export interface Measured {
  code: number | null;
  signal: NodeJS.Signals | null;
  wallMs: number;
  /** Peak resident set size of the tool's process, in KiB (undefined if unknown). */
  peakRssKb: number | undefined;
  /** How `peakRssKb` was measured. */
  rssSource: 'time -f %M' | 'VmHWM poll';
  /** CPU time (user + system) of the tool and its children, in ms (GNU time only). */
  cpuMs: number | undefined;
  /**
   * CPU time the whole machine was busy during the run, in ms summed over every core (from
   * /proc/stat): the tool plus the servers it talks to (Dovecot's pop3 and lmtp), plus
   * anything else running, so measure on a quiet machine.
   */
  machineCpuMs: number | undefined;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Options of {@link measure}. */
export interface MeasureOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs: number;
}

/** The peak RSS (VmHWM) of a live process in KiB, or undefined once it is gone. */
export function vmHwmKb(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Busy CPU time of the whole machine since boot, in ms summed over cores (undefined off Linux). */
function machineBusyMs(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1, 9) // user nice system idle iowait irq softirq steal; guest time is inside user
      .map(Number);
    // in USER_HZ (100 per second on Linux)
    const busy = fields.reduce((a, b) => a + b, 0) - fields[3]! - (fields[4] ?? 0);
    return busy * 10;
  } catch {
    return undefined;
  }
}

/** Children still running: {@link killChildren} ends them when the bench is interrupted. */
const live = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('close', () => live.delete(child));
  return child;
}

/** Kills every child this module started that still runs (and what they started). */
export function killChildren(): void {
  for (const child of live) killGroup(child);
}

/** Kills a child's whole process group (it was spawned detached, so the group is its own). */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Keeps the last `max` characters of a stream's output. */
function collect(stream: NodeJS.ReadableStream | null, max = 4 << 20): () => string {
  let text = '';
  stream?.on('data', (d: Buffer) => {
    text += d.toString();
    if (text.length > 2 * max) text = text.slice(-max);
  });
  return () => text.slice(-max);
}

/** Runs `command` to completion and measures it. Never throws on a non-zero exit. */
export async function measure(
  command: string,
  args: readonly string[],
  opts: MeasureOptions,
): Promise<Measured> {
  const useTime = existsSync(GNU_TIME);
  const rssFile = path.join(tmpdir(), `mailjobs-bench-rss-${process.pid}-${Date.now()}-${Math.random()}`);
  const [cmd, argv] = useTime
    ? [GNU_TIME, ['-f', '%M %U %S', '-o', rssFile, command, ...args]]
    : [command, [...args]];
  const started = process.hrtime.bigint();
  const busyBefore = machineBusyMs();
  const child = track(
    spawn(cmd, argv, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    }),
  );
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  let polled: number | undefined;
  const poll = useTime
    ? undefined
    : setInterval(() => (polled = Math.max(polled ?? 0, vmHwmKb(child.pid!) ?? 0)), 20);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, opts.timeoutMs);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c, s) => resolve({ code: c, signal: s }));
    },
  ).finally(() => {
    clearTimeout(timer);
    if (poll) clearInterval(poll);
  });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const busyAfter = machineBusyMs();
  const machineCpuMs =
    busyBefore !== undefined && busyAfter !== undefined ? busyAfter - busyBefore : undefined;
  let peakRssKb = polled;
  let cpuMs: number | undefined;
  if (useTime) {
    try {
      // GNU time writes "Command exited with non-zero status N" before the values on failure.
      const lines = readFileSync(rssFile, 'utf8').trim().split('\n');
      const [rss, user, system] = lines[lines.length - 1]!.split(' ').map(Number);
      peakRssKb = rss !== undefined && Number.isFinite(rss) && rss > 0 ? rss : undefined;
      cpuMs = Number.isFinite(user) && Number.isFinite(system) ? (user! + system!) * 1000 : undefined;
    } catch {
      peakRssKb = undefined;
    }
    rmSync(rssFile, { force: true });
  }
  return {
    code,
    signal,
    wallMs,
    peakRssKb,
    rssSource: useTime ? 'time -f %M' : 'VmHWM poll',
    cpuMs,
    machineCpuMs,
    stdout: stdout(),
    stderr: stderr(),
    timedOut,
  };
}

/** A long-running child (a worker) whose peak RSS is read while it still runs. */
export interface LongRunning {
  child: ChildProcess;
  output(): { stdout: string; stderr: string };
  /** Resolves when `test` matches a line of its stdout, rejects on exit or after `timeoutMs`. */
  waitForLine(test: RegExp, timeoutMs: number): Promise<void>;
  /** SIGTERM, then SIGKILL to its group after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `command` in its own process group; stop it with `stop()` (also on failure). */
export function startLongRunning(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): LongRunning {
  const child = track(spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true }));
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    child.once('close', () => resolve());
    child.once('error', () => resolve());
  });
  return {
    child,
    output: () => ({ stdout: stdout(), stderr: stderr() }),
    async waitForLine(test, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (test.test(stdout())) return;
        if (child.exitCode !== null || child.signalCode !== null) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const { stdout: out, stderr: err } = { stdout: stdout(), stderr: stderr() };
      throw new Error(
        `${command} ${args.join(' ')}: no line matching ${test} (exit ${child.exitCode ?? child.signalCode ?? 'none'})\n` +
          `--- stdout:\n${out.slice(-3000)}\n--- stderr:\n${err.slice(-3000)}`,
      );
    },
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
      killGroup(child);
      await exited;
    },
  };
}

/** `12.3 MB` style: 1 MB = 10^6 bytes for rates, MiB for memory (as `ps`/`top` count). */
export function mib(kb: number | undefined): string {
  return kb === undefined ? 'n/a' : `${(kb / 1024).toFixed(0)} MiB`;
}
