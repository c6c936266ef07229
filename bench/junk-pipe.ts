/**
 * The cost of one Junk move to the user: how long each producer of bayes-learn jobs takes per
 * call, process start-up included, with a ~4 KB message on stdin. The contrib sh spooler is
 * what Dovecot runs; the Node programs are measured against a bare `node -e 0`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface PipeRow {
  program: string;
  medianMs: number;
  p95Ms: number;
  calls: number;
}

function once(command: string, args: string[], input: Buffer, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { env, stdio: ['pipe', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve(Number(process.hrtime.bigint() - started) / 1e6)
        : reject(new Error(`${command} exited ${code}`)),
    );
    child.stdin.end(input);
  });
}

async function series(program: string, calls: number, run: () => Promise<number>): Promise<PipeRow> {
  await run(); // warm the page cache
  const times: number[] = [];
  for (let i = 0; i < calls; i++) times.push(await run());
  times.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(times[Math.min(times.length - 1, Math.floor(q * times.length))]! * 10) / 10;
  return { program, medianMs: at(0.5), p95Ms: at(0.95), calls };
}

/** Runs `work` while the spool's flush lock names this (live) process. */
async function withLiveFlusher<T>(spool: string, work: () => Promise<T>): Promise<T> {
  const lock = path.join(spool, '.flush.lock');
  writeFileSync(lock, String(process.pid));
  try {
    return await work();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Measures each producer `calls` times; `redisUrl` must answer (the Node ones queue for real). */
export async function benchPipe(opts: { dist: string; redisUrl: string; calls: number; message: Buffer }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailjobs-bench-pipe-'));
  try {
    const spool = path.join(dir, 'spool');
    const config = path.join(dir, 'mailjobs.yaml');
    writeFileSync(
      config,
      `redis: { url: "${opts.redisUrl}", prefix: benchpipe }\nbayesLearn: { spoolDir: ${spool} }\n`,
    );
    // Unchanged, told the spool as Dovecot tells it (sieve_env_mailjobs_spool_dir).
    const spooler = path.resolve('contrib/dovecot/sieve-pipe/learn');
    const env = { ...process.env, USER: 'alice' };
    const { message, calls } = opts;
    const learnBin = [
      path.join(opts.dist, 'bin/mailjobs-learn.js'),
      '--class',
      'spam',
      '--user',
      'alice',
      '--config',
      config,
    ];
    const cli = [
      path.join(opts.dist, 'cli.js'),
      'enqueue',
      'learn',
      '--class',
      'spam',
      '--user',
      'alice',
      '--config',
      config,
    ];
    const node = (args: string[]) => () => once(process.execPath, args, message, env);
    // The first Node call makes the spool folder, which the sh spooler expects to exist.
    await node(learnBin)();
    const rows = [
      await series('contrib sh spooler (what Dovecot runs)', calls, () =>
        once(spooler, ['spam', spool], message, env),
      ),
      await series('node -e 0 (Node start-up alone)', calls, node(['-e', '0'])),
      await series('mailjobs-learn (spool + detached flusher)', calls, node(learnBin)),
      // As when a worker or an earlier flusher is at it: a live lock holder, so no flusher starts.
      await withLiveFlusher(spool, () =>
        series('mailjobs-learn, spool only (a flusher is running)', calls, node(learnBin)),
      ),
      await series('mailjobs enqueue learn (spool + queue in-process)', calls, node(cli)),
    ];
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
