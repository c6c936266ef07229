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
