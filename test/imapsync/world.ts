/**
 * The world an imapsync test runs in: a private Redis, a "remote" Dovecot (separator '.', TLS,
 * no special-use attributes: folders are known by name only) holding the account to migrate,
 * and a "local" Dovecot (separator '/', special-use Sent/Drafts/Junk/Trash) logged into as
 * `<user>*vmail`. Jobs run through the real CLI (`mailjobs run imapsync ...`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { expect } from 'vitest';
import { registry } from '../../src/jobs/registry.js';
import { type DovecotFixture, startDovecot } from '../fixtures/dovecot.js';
import { type RedisFixture, startRedis } from '../fixtures/redis.js';
import { startRedisCluster } from '../fixtures/redis-cluster.js';
import { freshPrefix, runCli } from '../helpers/runtime.js';

export interface SyncWorld {
  /** The private Redis; with `cluster`, the Cluster's first node (for its port and log only). */
  redis: RedisFixture;
  /** The `redis:` config mapping's content, without the prefix (YAML flow style). */
  redisYaml: string;
  remote: DovecotFixture;
  local: DovecotFixture;
  stop(): Promise<void>;
}

/** Config folders written by {@link writeSyncConfig} (passwords, keys): removed by `stop()`. */
const configDirs: string[] = [];

export async function startSyncWorld(
  opts: {
    remoteSeparator?: '.' | '/';
    localSeparator?: '.' | '/';
    /** A 3-master Redis Cluster instead of one Redis. */
    cluster?: boolean;
    /** Another world's Redis (or Cluster), left running by `stop()`. */
    borrow?: { redis: RedisFixture; redisYaml: string };
  } = {},
): Promise<SyncWorld> {
  const [cluster, remote, local] = await Promise.all([
    opts.cluster && !opts.borrow ? startRedisCluster() : undefined,
    startDovecot({ tls: true, separator: opts.remoteSeparator ?? '.', specialUse: false }),
    startDovecot({ separator: opts.localSeparator ?? '/' }),
  ]);
  const redis = opts.borrow?.redis ?? (cluster ? cluster.servers[0]! : await startRedis());
  return {
    redis,
    redisYaml: opts.borrow?.redisYaml ?? (cluster ? cluster.yaml : `url: "${redis.url}"`),
    remote,
    local,
    async stop() {
      await Promise.allSettled([remote.stop(), local.stop()]);
      if (!opts.borrow) await (cluster ?? redis).stop();
      for (const dir of configDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TaskSpec {
  id: string;
  localUser: string;
  remoteUser: string;
  /** The remote user's password (written to a secret file), unless `admin` is given. */
  password?: string;
  /** Log in as the remote master user instead: `user*vmail` or SASL PLAIN authzid. */
  admin?: 'separator' | 'authzid';
  /** YAML flow mapping of options, e.g. `{ deleteOnDestination: true }`. */
  options?: string;
}

/**
 * Writes a config for this world (passwords in secret files); returns its path. `ports` points
 * either side elsewhere on 127.0.0.1 (a proxy in front of the fixture); `remotePlain`: the remote
 * over plain IMAP (its `imapPort`), so a proxy can read and answer commands.
 */
export function writeSyncConfig(
  w: SyncWorld,
  tasks: TaskSpec[],
  extra: string[] = [],
  prefix = freshPrefix(),
  ports: { remote?: number; local?: number; remotePlain?: boolean } = {},
): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailjobs-imapsync-'));
  configDirs.push(dir);
  const lines = [
    `redis: { ${w.redisYaml}, prefix: ${prefix} }`,
    ...(extra.some((l) => l.startsWith('workers:')) ? [] : ['workers: { lockDurationSeconds: 5 }']),
    'dovecot:',
    `  imap: { host: 127.0.0.1, port: ${ports.local ?? w.local.imapPort}, security: none }`,
    `  lmtp: { host: 127.0.0.1, port: ${w.local.lmtpPort} }`,
    '  masterUser: vmail',
    `  masterPasswordFile: ${w.local.masterPasswordFile}`,
    `secrets: { keyFile: ${join(dir, 'secrets.key')} }`,
    ...extra,
    tasks.length > 0 ? 'sync:' : 'sync: []',
  ];
  for (const t of tasks) {
    const secret = join(dir, `${t.id}.password`);
    writeFileSync(secret, t.admin ? w.remote.masterPassword : (t.password ?? ''), { mode: 0o600 });
    lines.push(
      `  - id: ${t.id}`,
      `    localUser: ${t.localUser}`,
      '    remote:',
      '      host: 127.0.0.1',
      `      port: ${ports.remote ?? (ports.remotePlain ? w.remote.imapPort : w.remote.imapsPort)}`,
      `      security: ${ports.remotePlain ? 'none' : 'tls'}`,
      '      verifyCertificate: false',
      `      username: ${t.remoteUser}`,
      ...(t.admin
        ? [`      admin: { user: vmail, passwordFile: ${secret}, method: ${t.admin} }`]
        : [`      passwordFile: ${secret}`]),
      ...(t.options ? [`    options: ${t.options}`] : []),
    );
  }
  const file = join(dir, 'mailjobs.yaml');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** `mailjobs run imapsync <payload>`: exit code, parsed result, stderr (the trail). */
export async function runImapsync(configFile: string, payload: Record<string, unknown>) {
  const r = await runCli(['run', 'imapsync', JSON.stringify(payload), '--config', configFile], registry);
  return {
    code: r.code,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    result: r.code === 0 ? (JSON.parse(r.out) as Record<string, any>) : undefined,
    err: r.err,
  };
}

/**
 * The log of `fx` from offset `from`, once it holds the end of every session of `user` that it
 * shows logging in, and at least one. Dovecot writes a session's `Disconnected: Logged out ...`
 * line (its counters) when the imap process ends, after the client had its LOGOUT answer, and
 * its log process writes the file later still: a run's client may be gone before its line is
 * there. Sessions are paired by Dovecot's session id (`session=<id>` at login, `<id>` after).
 */
export async function settledLog(fx: { log(): string }, user: string, from = 0): Promise<string> {
  const login = new RegExp(`Login: user=<${user}>,.* session=<([^>]+)>`, 'g');
  const unsettled = (log: string): string[] | 'no login yet' => {
    const sessions = [...log.matchAll(login)].map((m) => m[1]!);
    if (sessions.length === 0) return 'no login yet';
    // How Dovecot 2.3 ends a session's log: LOGOUT, the client hanging up, or anything else.
    const ended = (id: string) =>
      ['Logged out', 'Connection closed', 'Disconnected'].some((how) =>
        log.includes(`><${id}>: Info: ${how}`),
      );
    return sessions.filter((id) => !ended(id));
  };
  await expect.poll(() => unsettled(fx.log().slice(from)), { timeout: 30_000 }).toEqual([]);
  return fx.log().slice(from);
}

/**
 * What Dovecot's auth process said of each password check of `user` logged since offset `from`
 * (`Password mismatch`, ...), all of them: the auth process logs its checks in order, so once a
 * check of our own made after them (a login as an unknown user) is in the log, theirs are too.
 */
export async function authChecks(fx: DovecotFixture, user: string, from: number): Promise<string[]> {
  const marker = `nobody-${randomBytes(4).toString('hex')}`;
  const client = new ImapFlow({
    host: '127.0.0.1',
    port: fx.imapPort,
    secure: false,
    tls: { rejectUnauthorized: false },
    logger: false,
    auth: { user: marker, pass: 'x' },
  });
  await expect(client.connect()).rejects.toThrow();
  await expect.poll(() => fx.log().slice(from)).toContain(`(${marker},`);
  const check = new RegExp(`^.* auth: Info: [\\w-]+\\(${user},[^)]*\\): (.*)$`, 'gm');
  return [...fx.log().slice(from).matchAll(check)].map((m) => m[1]!);
}

/** Sums Dovecot's per-session counters (`Logged out ... hdr_count=.. body_count=..`) of `user` in `log`. */
export function sessionCounters(log: string, user: string) {
  const sum = { sessions: 0, out: 0, hdrCount: 0, bodyCount: 0, bodyBytes: 0 };
  for (const line of log.split('\n')) {
    if (!line.includes(`imap(${user})`) || !line.includes('Logged out')) continue;
    const n = (k: string): number => Number(new RegExp(`${k}=(\\d+)`).exec(line)?.[1] ?? 0);
    sum.sessions++;
    sum.out += n('out');
    sum.hdrCount += n('hdr_count');
    sum.bodyCount += n('body_count');
    sum.bodyBytes += n('body_bytes');
  }
  return sum;
}
