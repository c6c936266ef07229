/**
 * Real `mailjobs worker` processes (the CLI under tsx) for the kill -9 tests: start as many as a
 * test needs, kill one and wait for it to be gone, and kill whatever still runs when the file ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface WorkerProcesses {
  /** Starts `mailjobs worker --config <configFile>`; stdout is dropped, stderr shown. */
  start(configFile: string): ChildProcess;
  /** SIGKILLs every started process that has not exited (for afterAll). */
  killAll(): void;
}

/** Worker processes logging at `logLevel` (MAILJOBS_LOG_LEVEL). */
export function workerProcesses(logLevel: string): WorkerProcesses {
  const children: ChildProcess[] = [];
  return {
    start(configFile) {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'src/cli.ts', 'worker', '--config', configFile],
        {
          stdio: ['ignore', 'ignore', 'inherit'],
          env: { ...process.env, MAILJOBS_LOG_LEVEL: logLevel },
        },
      );
      children.push(child);
      return child;
    },
    killAll() {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    },
  };
}

/** Resolves once `child` has exited (at once if it already has). */
export const exited = (child: ChildProcess) =>
  new Promise<void>((r) =>
    child.exitCode !== null || child.signalCode ? r() : child.once('exit', () => r()),
  );

/** One line of a worker's JSON log. */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A `mailjobs worker` whose JSON log (info and up) the test reads. */
export interface LoggedWorker {
  readonly child: ChildProcess;
  lines(): LogLine[];
  /** Lines whose message starts with `msg`. */
  count(msg: string): number;
  /** What it wrote on stderr (nothing, when every error went through the log). */
  stderr(): string;
}

/** Starts `mailjobs worker --config <configFile>` logging JSON at info; its log is kept. */
export function loggedWorker(configFile: string): LoggedWorker {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'worker', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MAILJOBS_LOG_PRETTY: '0', MAILJOBS_LOG_LEVEL: 'info' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const lines = () =>
    stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as LogLine);
  return {
    child,
    lines,
    count: (msg) => lines().filter((l) => l.msg.startsWith(msg)).length,
    stderr: () => stderr,
  };
}
