/**
 * The world a getmail test runs in: a private Redis, a "remote" Dovecot (POP3/IMAP, TLS) that
 * holds the account to fetch, a "local" Dovecot that receives over LMTP (read back as
 * `<user>*vmail`), and optionally Rspamd and clamd. Jobs run through the real CLI (`run`).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { getmailJob } from '../../src/jobs/getmail/index.js';
import { LmtpClient } from '../../src/mail/lmtp.js';
import { registry } from '../../src/jobs/registry.js';
import { startClamd, type ClamdFixture } from '../fixtures/clamd.js';
import { startDovecot, type DovecotFixture } from '../fixtures/dovecot.js';
import type { RedisSettings } from '../../src/core/redis-settings.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { startRedisCluster, type RedisClusterFixture } from '../fixtures/redis-cluster.js';
import { startRedisSentinel, type RedisSentinelFixture } from '../fixtures/redis-sentinel.js';
import { startRspamd, type RspamdFixture } from '../fixtures/rspamd.js';
import { masterSession } from '../helpers/master-session.js';
import { openJobClient } from '../helpers/job-client.js';
import { freshPrefix, runCli, startTestWorkers } from '../helpers/runtime.js';

export interface World {
  /**
   * The private Redis; with `cluster`, the Cluster's first node, with `sentinel` the first master
   * (for its port and log only).
   */
  redis: RedisFixture;
  /** With `cluster`: the Cluster every connection uses. */
  cluster?: RedisClusterFixture;
  /** With `sentinel`: the Sentinel set every connection uses. */
  sentinel?: RedisSentinelFixture;
  /** How mailjobs reaches this world's Cluster (else `redis.url`). */
  redisSettings?: RedisSettings;
  /** The `redis:` config mapping's content for it, without the prefix (else the `url` of `redis`). */
  redisYaml?: string;
  remote: DovecotFixture;
  local: DovecotFixture;
  rspamd?: RspamdFixture;
  clamd?: ClamdFixture;
  stop(): Promise<void>;
}

export interface WorldOptions {
  /** Start Rspamd and clamd too. */
  scanners?: boolean;
  /** A storage quota for every local user, in KiB (see `DovecotOptions.quotaKilobytes`). */
  localQuotaKilobytes?: number;
  /** A 3-master Redis Cluster instead of one Redis (not with `scanners`: Rspamd wants one Redis). */
  cluster?: boolean;
  /** A Sentinel set (master, replica, 3 sentinels) instead of one Redis (not with `scanners`). */
  sentinel?: boolean;
}

export async function startWorld(opts: WorldOptions = {}): Promise<World> {
  const [cluster, sentinel, remote, local] = await Promise.all([
    opts.cluster ? startRedisCluster() : undefined,
    opts.sentinel ? startRedisSentinel() : undefined,
    startDovecot({ tls: true }),
    startDovecot(opts.localQuotaKilobytes ? { quotaKilobytes: opts.localQuotaKilobytes } : {}),
  ]);
  const redis = (cluster ?? sentinel)?.servers[0] ?? (await startRedis());
  const [rspamd, clamd] = opts.scanners
    ? await Promise.all([startRspamd({ redisUrl: redis.url }), startClamd()])
    : [undefined, undefined];
  return {
    redis,
    ...(cluster ? { cluster } : {}),
    ...(sentinel ? { sentinel } : {}),
    redisSettings: cluster
      ? { cluster: cluster.nodes }
      : sentinel
        ? { sentinels: sentinel.sentinels, name: sentinel.name }
        : { url: redis.url },
    redisYaml: (cluster ?? sentinel)?.yaml ?? `url: "${redis.url}"`,
    remote,
    local,
    ...(rspamd ? { rspamd } : {}),
    ...(clamd ? { clamd } : {}),
    async stop() {
      await Promise.allSettled([remote.stop(), local.stop(), rspamd?.stop(), clamd?.stop()]);
      await (cluster ?? sentinel ?? redis).stop();
    },
  };
}

/**
 * The world of a test file: started before its tests, stopped after them. The object is usable
 * at once; its services can be read from the tests (once `beforeAll` has run).
 */
export function useWorld(opts: WorldOptions = {}): World {
  let started: World | undefined;
  beforeAll(async () => {
    started = await startWorld(opts);
  });
  afterAll(async () => {
    await started?.stop();
  });
  const world = (): World => {
    if (!started) throw new Error('the getmail world is not started (only tests and hooks may use it)');
    return started;
  };
  return {
    get redis() {
      return world().redis;
    },
    get cluster() {
      return world().cluster;
    },
    get sentinel() {
      return world().sentinel;
    },
    get redisSettings() {
      return world().redisSettings;
    },
    get redisYaml() {
      return world().redisYaml;
    },
    get remote() {
      return world().remote;
    },
    get local() {
      return world().local;
    },
    get rspamd() {
      return world().rspamd;
    },
    get clamd() {
      return world().clamd;
    },
    stop: () => world().stop(),
  };
}

/** A plain message; `extra` lines go into the header. */
export function message(
  id: string,
  body = 'Hello, this is a test message.\r\n',
  extra: string[] = [],
): Buffer {
  return Buffer.from(
    [
      `From: Bob <bob@example.org>`,
      `To: someone@example.org`,
      `Message-ID: <${id}@example.org>`,
      `Subject: test ${id}`,
      ...extra,
      '',
      body,
    ].join('\r\n'),
  );
}

/** Sets the local Dovecot's quota limit and `quota_full_tempfail` (a top-level setting), and reloads it. */
export async function setQuota(fx: DovecotFixture, opts: { kilobytes: number; tempfail: boolean }) {
  const conf = (await readFile(fx.configFile, 'utf8'))
    .replace(/quota_rule = \*:storage=\d+K/, `quota_rule = *:storage=${opts.kilobytes}K`)
    .replace(/\nquota_full_tempfail = \w+\n/, '\n');
  await writeFile(fx.configFile, `${conf}quota_full_tempfail = ${opts.tempfail ? 'yes' : 'no'}\n`);
  await fx.reload();
}

/** Puts messages into a mailbox of `fx` over its LMTP. */
export async function deliverTo(fx: DovecotFixture, user: string, messages: Buffer[]): Promise<void> {
  const lmtp = new LmtpClient({ host: '127.0.0.1', port: fx.lmtpPort });
  await lmtp.connect();
  try {
    for (const m of messages) await lmtp.deliver({ from: 'bob@example.org', to: user, message: m });
  } finally {
    await lmtp.close();
  }
}

export interface StoredMessage {
  uid: number;
  source: Buffer;
  flags: Set<string>;
}

/** Every message of `folder` in `user`'s mailbox, read as the master user (nothing marked seen). */
export async function mailbox(fx: DovecotFixture, user: string, folder = 'INBOX'): Promise<StoredMessage[]> {
  const client = await masterSession(fx, user);
  try {
    const box = await client.mailboxOpen(folder, { readOnly: true });
    if (box.exists === 0) return [];
    const out: StoredMessage[] = [];
    for await (const m of client.fetch('1:*', { uid: true, source: true, flags: true })) {
      out.push({ uid: m.uid, source: m.source!, flags: m.flags ?? new Set() });
    }
    return out;
  } finally {
    await client.logout();
  }
}

/** How many messages `folder` holds (doveadm: not while a job delivers to `user`, see DovecotFixture.doveadm). */
export async function countMessages(fx: DovecotFixture, user: string, folder = 'INBOX'): Promise<number> {
  const r = await fx.doveadm(['mailbox', 'status', '-u', user, 'messages', folder]);
  return Number(/messages=(\d+)/.exec(r.stdout)?.[1] ?? 'NaN');
}

export interface ConnectorSpec {
  id: string;
  protocol: 'pop3' | 'imap';
  security?: 'tls' | 'starttls' | 'none';
  user: string;
  password: string;
  deliverTo: string;
  delete?: string;
  folders?: string;
  verifyCertificate?: boolean;
  filters?: string;
  /** Another port than the remote's own (a proxy in front of it). */
  port?: number;
  /** An `auth:` block (YAML flow mapping) instead of the password file. */
  auth?: string;
  intervalMinutes?: number;
  push?: boolean;
}

function port(w: World, c: ConnectorSpec): number {
  if (c.port) return c.port;
  const sec = c.security ?? 'tls';
  if (c.protocol === 'pop3') return sec === 'tls' ? w.remote.pop3sPort! : w.remote.pop3Port;
  return sec === 'tls' ? w.remote.imapsPort! : w.remote.imapPort;
}

/** Writes a config file for this world; returns its path. Passwords go to secret files. */
export function writeWorldConfig(
  w: World,
  connectors: ConnectorSpec[],
  extra = '',
  prefix = freshPrefix(),
): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailjobs-getmail-'));
  const lines = [
    `redis: { ${w.redisYaml ?? `url: "${w.redis.url}"`}, prefix: ${prefix} }`,
    'workers: { lockDurationSeconds: 5 }',
    'dovecot:',
    `  imap: { host: 127.0.0.1, port: ${w.local.imapPort}, security: none }`,
    `  lmtp: { host: 127.0.0.1, port: ${w.local.lmtpPort} }`,
    '  masterUser: vmail',
    `  masterPasswordFile: ${w.local.masterPasswordFile}`,
    ...(w.rspamd
      ? [
          `rspamd: { url: "${w.rspamd.normalUrl}", controllerUrl: "${w.rspamd.controllerUrl}", timeoutSeconds: 10 }`,
        ]
      : []),
    ...(w.clamd ? [`clamd: { socket: ${w.clamd.socket}, timeoutSeconds: 10 }`] : []),
    'connectors:',
  ];
  // A top-level key in `extra` replaces the world's line for that key.
  for (const line of extra.split('\n').filter(Boolean).reverse()) {
    const key = /^([a-z]+):/.exec(line)?.[1];
    const at = key ? lines.findIndex((l) => l.startsWith(`${key}:`)) : -1;
    if (at >= 0) lines.splice(at, 1);
    lines.splice(lines.length - 1, 0, line);
  }
  for (const c of connectors) {
    const secret = join(dir, `${c.id}.password`);
    writeFileSync(secret, c.password, { mode: 0o600 });
    lines.push(
      `  - id: ${c.id}`,
      `    protocol: ${c.protocol}`,
      `    security: ${c.security ?? 'tls'}`,
      '    host: 127.0.0.1',
      `    port: ${port(w, c)}`,
      `    username: ${c.user}`,
      c.auth ? `    auth: ${c.auth}` : `    passwordFile: ${secret}`,
      `    deliverTo: ${c.deliverTo}`,
      `    delete: ${c.delete ?? 'never'}`,
      `    verifyCertificate: ${c.verifyCertificate ?? false}`,
      ...(c.folders ? [`    folders: ${c.folders}`] : []),
      ...(c.filters ? [`    filters: ${c.filters}`] : []),
      ...(c.intervalMinutes ? [`    intervalMinutes: ${c.intervalMinutes}`] : []),
      ...(c.push !== undefined ? [`    push: ${c.push}`] : []),
    );
  }
  const file = join(dir, 'mailjobs.yaml');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/**
 * In-process workers for `configFile` (which names this world's Redis), and what it takes to
 * enqueue and watch a getmail job.
 */
export async function startGetmailWorkers(w: World, configFile: string) {
  const redisSettings = w.redisSettings ?? { url: w.redis.url };
  const client = await openJobClient(redisSettings, configFile, getmailJob);
  const workers = startTestWorkers({ config: client.config, redisSettings, redis: client.redis }, registry);
  return {
    ...client,
    enqueue: (account: string) => client.enqueue({ account }),
    async close() {
      await workers.close();
      await client.close();
    },
  };
}

/** `mailjobs run getmail {"account": ...}`: exit code, parsed result, stderr. */
export async function runGetmail(configFile: string, account: string) {
  const r = await runCli(['run', 'getmail', JSON.stringify({ account }), '--config', configFile], registry);
  return {
    code: r.code,
    result: r.code === 0 ? (JSON.parse(r.out) as Record<string, number>) : undefined,
    err: r.err,
  };
}

/** The `X-Mailjobs-Fetched` values of stored messages. */
export function traces(stored: StoredMessage[]): string[] {
  return stored.map(
    (m) => /^X-Mailjobs-Fetched: (.*)\r?$/m.exec(m.source.toString('latin1'))?.[1] ?? '(none)',
  );
}
