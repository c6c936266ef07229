/**
 * The three tools of the imapsync bench, each copying the "remote" account into a fresh local
 * user of the "local" Dovecot, over plain IMAP on 127.0.0.1: mailjobs (`mailjobs run imapsync`,
 * the built CLI), mbsync (isync, IMAP to IMAP, `Sync Pull`), and Dovecot's own dsync
 * (`doveadm backup -R` from an `imapc:` source: it writes the local storage directly).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DovecotFixture } from '../test/fixtures/dovecot.js';
import type { Queue, QueueEvents } from 'bullmq';
import { openQueue } from '../src/core/queues.js';
import { bullConnection, queuePrefix } from '../src/core/redis.js';
import { type LongRunning, type Measured, measure, startLongRunning, vmHwmKb } from './measure.js';

export const ROOT = path.resolve(import.meta.dirname, '..');

export interface SyncTarget {
  remote: DovecotFixture;
  local: DovecotFixture;
  redisUrl: string;
  remoteUser: string;
  remotePassword: string;
  localUser: string;
}

export interface ToolRun extends Measured {
  /** The job's own report (mailjobs only). */
  result?: Record<string, unknown>;
}

const TIMEOUT_MS = 30 * 60_000;

function workDir(name: string): string {
  const dir = path.join(tmpdir(), `mailjobs-bench-imapsync-${process.pid}`, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The mailjobs config of a bench target: one `sync:` task `bench` from the remote user into `t.localUser`. */
function writeMailjobsConfig(t: SyncTarget, prefix: string, parallelFolders: number): string {
  const dir = workDir(`mailjobs-${t.localUser}`);
  const secret = path.join(dir, 'remote.password');
  writeFileSync(secret, t.remotePassword, { mode: 0o600 });
  const config = path.join(dir, 'mailjobs.yaml');
  writeFileSync(
    config,
    [
      `redis: { url: "${t.redisUrl}", prefix: ${prefix} }`,
      'dovecot:',
      `  imap: { host: 127.0.0.1, port: ${t.local.imapPort}, security: none }`,
      `  masterPasswordFile: ${t.local.masterPasswordFile}`,
      `imapsync: { parallelFolders: ${parallelFolders} }`,
      'sync:',
      '  - id: bench',
      `    localUser: ${t.localUser}`,
      `    remote: { host: 127.0.0.1, port: ${t.remote.imapPort}, security: none, username: ${t.remoteUser}, passwordFile: ${secret} }`,
      '',
    ].join('\n'),
  );
  return config;
}

/** `mailjobs run imapsync {"task":"bench"}` with a config written for `t`; `cli`: another build's cli.js. */
export async function runMailjobs(
  t: SyncTarget,
  prefix: string,
  parallelFolders: number,
  cli = path.join(ROOT, 'dist/cli.js'),
): Promise<ToolRun> {
  const config = writeMailjobsConfig(t, prefix, parallelFolders);
  const run = await measure(
    process.execPath,
    [cli, 'run', 'imapsync', '{"task":"bench"}', '--config', config],
    { timeoutMs: TIMEOUT_MS, env: { ...process.env, MAILJOBS_LOG_LEVEL: 'warn' } },
  );
  let result: Record<string, unknown> | undefined;
  try {
    result = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
  } catch {
    result = undefined;
  }
  return { ...run, ...(result ? { result } : {}) };
}

/** mbsync: IMAP far side to IMAP near side (`<user>*vmail`), pull only, creating folders. */
export async function runMbsync(t: SyncTarget): Promise<ToolRun> {
  const dir = workDir(`mbsync-${t.localUser}`);
  mkdirSync(path.join(dir, 'state'), { recursive: true });
  const rc = path.join(dir, 'mbsyncrc');
  writeFileSync(
    rc,
    [
      'IMAPAccount remote',
      'Host 127.0.0.1',
      `Port ${t.remote.imapPort}`,
      `User ${t.remoteUser}`,
      `Pass ${t.remotePassword}`,
      'SSLType None',
      'AuthMechs LOGIN',
      '',
      'IMAPStore remote',
      'Account remote',
      '',
      'IMAPAccount local',
      'Host 127.0.0.1',
      `Port ${t.local.imapPort}`,
      `User ${t.local.masterLogin(t.localUser)}`,
      `Pass ${t.local.masterPassword}`,
      'SSLType None',
      'AuthMechs LOGIN',
      '',
      'IMAPStore local',
      'Account local',
      '',
      'Channel bench',
      'Far :remote:',
      'Near :local:',
      // Drafts, Junk and Trash exist only on the near side (Dovecot auto-creates them): mbsync
      // would fail to open them on the far side.
      'Patterns * !Drafts !Junk !Trash',
      'Create Near',
      'Sync Pull',
      'Expunge None',
      'CopyArrivalDate yes',
      `SyncState ${path.join(dir, 'state')}/`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return measure('mbsync', ['-c', rc, '-a', '-q'], { timeoutMs: TIMEOUT_MS });
}

/** dsync: `doveadm backup -R` into the local user from an imapc: (IMAP client) source. */
export async function runDsync(t: SyncTarget): Promise<ToolRun> {
  // prettier-ignore
  return measure('doveadm', [
    '-c', t.local.configFile,
    '-o', 'imapc_host=127.0.0.1',
    '-o', `imapc_port=${t.remote.imapPort}`,
    '-o', `imapc_user=${t.remoteUser}`,
    '-o', `imapc_password=${t.remotePassword}`,
    '-o', 'imapc_features=rfc822.size fetch-headers',
    '-o', 'mail_prefetch_count=20',
    'backup', '-R', '-u', t.localUser, 'imapc:',
  ], { timeoutMs: TIMEOUT_MS });
}

/** A `mailjobs worker` kept running for one target, and the bench's queue handles on it. */
interface RunningWorker {
  worker: LongRunning;
  queue: Queue;
  events: QueueEvents;
}

/**
 * mailjobs as it runs in production: one `mailjobs worker` process per target, started before
 * the first run and kept for the rerun (its start-up is not timed, as a worker starts once);
 * each run is timed from the enqueue to the job's completion. Stop them with the returned
 * `close()`. Peak RSS: the worker's VmHWM after the run.
 */
export function mailjobsWorkerTool(parallelFolders: number, cli = path.join(ROOT, 'dist/cli.js')) {
  const running = new Map<string, RunningWorker>();
  const start = async (t: SyncTarget, prefix: string): Promise<RunningWorker> => {
    const config = writeMailjobsConfig(t, prefix, parallelFolders);
    const worker = startLongRunning(process.execPath, [cli, 'worker', '--config', config], {
      ...process.env,
      MAILJOBS_LOG_PRETTY: '0',
    });
    await worker.waitForLine(/"msg":"mailjobs running"/, 60_000);
    const { QueueEvents } = await import('bullmq');
    const events = new QueueEvents('imapsync', {
      connection: bullConnection(t.redisUrl, { blocking: true }),
      prefix: queuePrefix(prefix),
    });
    await events.waitUntilReady();
    return { worker, queue: openQueue('imapsync', t.redisUrl, prefix), events };
  };
  const runOnce = async (t: SyncTarget, prefix: string): Promise<ToolRun> => {
    let w = running.get(t.localUser);
    if (!w) running.set(t.localUser, (w = await start(t, prefix)));
    const started = process.hrtime.bigint();
    const job = await w.queue.add('imapsync', { task: 'bench' });
    let result: Record<string, unknown> | undefined;
    let failure = '';
    try {
      result = (await job.waitUntilFinished(w.events, TIMEOUT_MS)) as Record<string, unknown>;
    } catch (err) {
      failure = (err as Error).message;
    }
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    const outcome = result?.outcome;
    return {
      code: failure || (outcome !== undefined && outcome !== 'ok') ? 1 : 0,
      signal: null,
      wallMs,
      peakRssKb: vmHwmKb(w.worker.child.pid!),
      rssSource: 'VmHWM poll',
      cpuMs: undefined,
      machineCpuMs: undefined,
      stdout: result ? JSON.stringify(result) : '',
      stderr: failure || w.worker.output().stderr.slice(-2000),
      timedOut: false,
      ...(result ? { result } : {}),
    };
  };
  const close = async () => {
    for (const w of running.values()) {
      await w.events.close();
      await w.queue.close();
      await w.worker.stop();
    }
    running.clear();
  };
  return { runOnce, close };
}
