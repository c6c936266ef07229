/**
 * The three fetchers under test, each run once as a child process against the same remote
 * POP3 account: mailjobs (`node <build>/cli.js run getmail`), getmail6 (SimplePOP3Retriever →
 * MDA_lmtp) and fetchmail (`--lmtp`). Every tool gets its own temp folder for its config and
 * state ({@link toolDir}); {@link removeToolDirs} removes them all at the end.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DovecotFixture } from '../test/fixtures/dovecot.js';
import { run } from '../test/fixtures/service.js';
import { measure, type Measured } from './measure.js';

/** The project root (bench/..). */
export const ROOT = path.resolve(import.meta.dirname, '..');
/**
 * The bench's own build of src/ (git-ignored). Not the shared dist/: others working in the same
 * tree rebuild that while the bench runs, and the runs would measure different code.
 */
export const BUILD_DIR = path.join(ROOT, 'bench/results/dist');
/** `mailjobs` as the bench runs it: `node <BUILD_DIR>/cli.js`. */
export const CLI = path.join(BUILD_DIR, 'cli.js');

/** Compiles src/ into {@link BUILD_DIR} (`tsc -p tsconfig.build.json --outDir ...`); throws with tsc's output. */
export async function buildMailjobs(): Promise<void> {
  rmSync(BUILD_DIR, { recursive: true, force: true });
  const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
  const r = await run(
    process.execPath,
    [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', BUILD_DIR],
    {
      timeoutMs: 5 * 60_000,
    },
  );
  if (r.code !== 0) throw new Error(`building mailjobs failed (tsc exit ${r.code}):\n${r.stdout}${r.stderr}`);
}

/** Where a fetch goes: the remote POP3 account and the local user that receives over LMTP. */
export interface FetchTarget {
  remote: DovecotFixture;
  local: DovecotFixture;
  remoteUser: string;
  remotePassword: string;
  localUser: string;
}

/** A connector of a mailjobs config (plain POP3 on the remote fixture). */
export interface BenchConnector {
  id: string;
  remoteUser: string;
  remotePassword: string;
  localUser: string;
}

/** A tool's run, plus what its own output said (mailjobs: the result JSON). */
export interface ToolRun extends Measured {
  result?: Record<string, unknown>;
}

const madeDirs: string[] = [];

/** Makes `$TMPDIR/mailjobs-bench-<name>-XXXXXX` for a tool's config and state; see {@link removeToolDirs}. */
export function toolDir(name: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `mailjobs-bench-${name}-`));
  madeDirs.push(dir);
  return dir;
}

/** Removes every folder {@link toolDir} made (kept with `MAILJOBS_KEEP_FIXTURES=1`, like the fixtures'). */
export function removeToolDirs(): void {
  if (process.env.MAILJOBS_KEEP_FIXTURES === '1') return;
  for (const dir of madeDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** `BENCH_LMTP_CONNECTIONS=N` sets `getmail.lmtpConnections` (unset: mailjobs' default). */
function lmtpConnections(): string {
  const n = process.env.BENCH_LMTP_CONNECTIONS;
  return n ? `, lmtpConnections: ${Number(n)}` : '';
}

/**
 * Writes a mailjobs config for `connectors` in `dir` and returns its path. Limits per run are
 * raised so one run fetches the whole corpus (the defaults stop at 1,000 messages per run).
 */
export function writeMailjobsConfig(
  dir: string,
  opts: {
    redisUrl: string;
    prefix: string;
    remote: DovecotFixture;
    local: DovecotFixture;
    connectors: readonly BenchConnector[];
    concurrency?: number;
  },
): string {
  const lines = [
    `redis: { url: "${opts.redisUrl}", prefix: ${opts.prefix} }`,
    opts.concurrency ? `workers: { concurrency: { getmail: ${opts.concurrency} } }` : '',
    'dovecot:',
    `  imap: { host: 127.0.0.1, port: ${opts.local.imapPort}, security: none }`,
    `  lmtp: { host: 127.0.0.1, port: ${opts.local.lmtpPort} }`,
    '  masterUser: vmail',
    `  masterPasswordFile: ${opts.local.masterPasswordFile}`,
    `getmail: { maxMessagesPerRun: 1000000, maxMegabytesPerRun: 1000000${lmtpConnections()} }`,
    'connectors:',
  ];
  for (const c of opts.connectors) {
    const secret = path.join(dir, `${c.id}.password`);
    writeFileSync(secret, c.remotePassword, { mode: 0o600 });
    lines.push(
      `  - id: ${c.id}`,
      '    protocol: pop3',
      '    security: none',
      '    host: 127.0.0.1',
      `    port: ${opts.remote.pop3Port}`,
      `    username: ${c.remoteUser}`,
      `    passwordFile: ${secret}`,
      `    deliverTo: ${c.localUser}`,
      '    delete: never',
      '    verifyCertificate: false',
    );
  }
  const file = path.join(dir, 'mailjobs.yaml');
  writeFileSync(file, `${lines.filter(Boolean).join('\n')}\n`);
  return file;
}

/** The result JSON `mailjobs run` prints last on stdout (pino log lines come before it). */
export function parseRunResult(stdout: string): Record<string, unknown> | undefined {
  for (const line of stdout.trim().split('\n').reverse()) {
    if (!line.startsWith('{')) continue;
    try {
      const value = JSON.parse(line) as Record<string, unknown>;
      if ('durationMs' in value && !('level' in value)) return value;
    } catch {
      // a truncated log line: keep looking
    }
  }
  return undefined;
}

/** `node <CLI> run getmail {"account": id} --config FILE`, measured. */
export async function runMailjobs(
  configFile: string,
  account: string,
  opts: { timeoutMs: number; nodeArgs?: string[]; env?: NodeJS.ProcessEnv },
): Promise<ToolRun> {
  const args = [
    ...(opts.nodeArgs ?? []),
    CLI,
    'run',
    'getmail',
    JSON.stringify({ account }),
    '--config',
    configFile,
  ];
  const env = { ...process.env, MAILJOBS_LOG_PRETTY: '0', ...opts.env };
  const r = await measure(process.execPath, args, { timeoutMs: opts.timeoutMs, env, cwd: ROOT });
  const result = parseRunResult(r.stdout);
  return result ? { ...r, result } : r;
}

/** getmail6 with a SimplePOP3Retriever and an MDA_lmtp destination (options per getmail6 6.18 docs). */
export async function runGetmail6(t: FetchTarget, opts: { timeoutMs: number }): Promise<ToolRun> {
  const dir = toolDir('getmail6');
  const rc = path.join(dir, 'getmailrc');
  writeFileSync(
    rc,
    [
      '[retriever]',
      'type = SimplePOP3Retriever',
      'server = 127.0.0.1',
      `port = ${t.remote.pop3Port}`,
      `username = ${t.remoteUser}`,
      `password = ${t.remotePassword}`,
      '',
      '[destination]',
      'type = MDA_lmtp',
      'host = 127.0.0.1',
      `port = ${t.local.lmtpPort}`,
      // MDA_lmtp reads the recipient from `override`; a POP3 retriever knows no envelope recipient.
      `override = ${t.localUser}`,
      '',
      '[options]',
      'verbose = 0',
      'read_all = false',
      'delete = false',
      'message_log_syslog = false',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return measure('getmail', ['--getmaildir', dir, '--rcfile', rc], {
    timeoutMs: opts.timeoutMs,
    env: { ...process.env, HOME: dir },
  });
}

/** fetchmail over plain POP3, delivering with `--lmtp` to the local Dovecot; `.fetchids` in a temp HOME. */
export async function runFetchmail(t: FetchTarget, opts: { timeoutMs: number }): Promise<ToolRun> {
  const dir = toolDir('fetchmail');
  const rc = path.join(dir, 'fetchmailrc');
  writeFileSync(
    rc,
    [
      'set no syslog',
      `poll 127.0.0.1 with proto POP3 port ${t.remote.pop3Port} auth password`,
      `  user "${t.remoteUser}" there with password "${t.remotePassword}" is "${t.localUser}" here`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  // prettier-ignore
  const args = [
    '-f', rc, '-i', path.join(dir, '.fetchids'), '--pidfile', path.join(dir, 'fetchmail.pid'),
    '--lmtp', '--smtphost', `127.0.0.1/${t.local.lmtpPort}`, '--smtpname', t.localUser,
    // fetchmail 6.4 tries STARTTLS by default and gives up without it; '' disables it (man fetchmail).
    '--sslproto', '', '-k', '--fetchall', '--nodetach', '--silent',
  ];
  return measure('fetchmail', args, { timeoutMs: opts.timeoutMs, env: { ...process.env, HOME: dir } });
}
