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
import { type Measured, measure } from './measure.js';

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

/** `mailjobs run imapsync {"task":"bench"}` with a config written for `t`; `cli`: another build's cli.js. */
export async function runMailjobs(
  t: SyncTarget,
  prefix: string,
  parallelFolders: number,
  cli = path.join(ROOT, 'dist/cli.js'),
): Promise<ToolRun> {
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
