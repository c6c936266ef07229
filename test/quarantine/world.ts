/**
 * The quarantine's test bed: a private Redis, Dovecot (the quarantine, postmaster and recipient
 * mailboxes) and Postfix (notifications arrive through it into Dovecot over LMTP). Messages are
 * put into the quarantine mailbox with IMAP APPEND, carrying the header contract's fields as
 * Rspamd's side adds them (/contrib), so these tests need no Rspamd; the end-to-end test starts it
 * with Rspamd in front (`rspamdQuarantine`).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { expect } from 'vitest';
import { main } from '../../src/cli/main.js';
import { connectRedis, endConnection, stateKey } from '../../src/core/redis.js';
import { type QuarantineItem, QuarantineStore } from '../../src/jobs/quarantine/store.js';
import type { QuarantineActionContext } from '../../src/jobs/quarantine/release.js';
import { loadConfig } from '../../src/config/load.js';
import { registry } from '../../src/jobs/registry.js';
import { startDovecot, type DovecotFixture } from '../fixtures/dovecot.js';
import { startPostfix, type PostfixFixture } from '../fixtures/postfix.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import type { RspamdFixture } from '../fixtures/rspamd.js';
import { masterSession } from '../helpers/master-session.js';
import { freshPrefix, silentLog } from '../helpers/runtime.js';
import { startQuarantineChain } from './install.js';

export const DOMAIN = 'mail.test.local';

export interface World {
  redis: RedisFixture;
  dovecot: DovecotFixture;
  postfix: PostfixFixture;
  /** Present when the world was started with `rspamdQuarantine`: Postfix's milter. */
  rspamd?: RspamdFixture;
  stop(): Promise<void>;
}

/**
 * Starts the test bed. With `rspamdQuarantine` (a mailbox), Postfix scans through a private Rspamd
 * running contrib/ as the README installs it, quarantining reject-level spam into that mailbox.
 */
export async function startWorld(opts: { rspamdQuarantine?: string } = {}): Promise<World> {
  const [redis, dovecot] = await Promise.all([startRedis(), startDovecot()]);
  const chain = opts.rspamdQuarantine
    ? await startQuarantineChain({
        redisUrl: redis.url,
        lmtpPort: dovecot.lmtpPort,
        mailbox: opts.rspamdQuarantine,
      })
    : undefined;
  const postfix = chain?.postfix ?? (await startPostfix({ localLmtpPort: dovecot.lmtpPort }));
  return {
    redis,
    dovecot,
    postfix,
    rspamd: chain?.rspamd,
    stop: async () =>
      void (await Promise.allSettled([chain ? chain.stop() : postfix.stop(), dovecot.stop(), redis.stop()])),
  };
}

/** One test's names: prefix, quarantine mailbox, postmaster, two recipients. */
export interface Setup {
  prefix: string;
  quarantine: string;
  postmaster: string;
  alice: string;
  bob: string;
}

export async function setup(w: World, name: string): Promise<Setup> {
  const s = {
    prefix: freshPrefix(),
    quarantine: `q-${name}@${DOMAIN}`,
    postmaster: `pm-${name}@${DOMAIN}`,
    alice: `alice-${name}@${DOMAIN}`,
    bob: `bob-${name}@${DOMAIN}`,
  };
  await Promise.all([s.quarantine, s.postmaster, s.alice, s.bob].map((u) => w.dovecot.addUser(u)));
  return s;
}

/** A config file for `s`; `quarantine` and `alerts` are YAML flow entries added to the sections. */
export function configFile(
  w: World,
  s: Setup,
  quarantine = '',
  opts: { smtpPort?: number; lmtpPort?: number; extra?: string[] } = {},
): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailjobs-quarantine-'));
  const file = join(dir, 'mailjobs.yaml');
  writeFileSync(
    file,
    [
      `redis: { url: "${w.redis.url}", prefix: ${s.prefix} }`,
      'dovecot:',
      `  imap: { host: 127.0.0.1, port: ${w.dovecot.imapPort}, security: none }`,
      `  lmtp: { host: 127.0.0.1, port: ${opts.lmtpPort ?? w.dovecot.lmtpPort} }`,
      `  masterPasswordFile: ${w.dovecot.masterPasswordFile}`,
      `alerts: { enabled: false, from: mailjobs@${DOMAIN}, smtp: { host: 127.0.0.1, port: ${opts.smtpPort ?? w.postfix.smtpPort}, timeoutSeconds: 10 } }`,
      `quarantine: { enabled: true, mailbox: ${s.quarantine}, notifyTo: ${s.postmaster}${quarantine ? `, ${quarantine}` : ''} }`,
      ...(opts.extra ?? []),
    ].join('\n') + '\n',
  );
  return file;
}

/** Runs the CLI in-process; `logs` gets every log line (pino JSON, parsed). */
export async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const code = await main(argv, { jobs: registry, log, out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n'), logs };
}

/** One run of the quarantine job; its result. */
export async function runJob(file: string, payload = '{}'): Promise<Record<string, unknown>> {
  const r = await cli(['run', 'quarantine', payload, '--config', file]);
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out) as Record<string, unknown>;
}

/** A spam message as Rspamd's side delivers it into the quarantine. */
export function quarantined(opts: {
  from?: string;
  to?: string[];
  subject: string;
  body: string;
  contract?: boolean;
  queueId?: string;
}): string {
  const contract =
    opts.contract === false
      ? []
      : [
          `X-Quarantine-From: <${opts.from ?? 'spammer@spam.example'}>`,
          ...(opts.to ?? []).map((t) => `X-Quarantine-To: <${t}>`),
          `X-Quarantine-Queue-Id: ${opts.queueId ?? '4ABC123DEF'}`,
          'X-Quarantine-Action: reject',
          'X-Quarantine-Score: 1015.20/15.00',
          'X-Quarantine-Symbols: GTUBE(1000.00), R_DKIM_NA(0.00),',
          ' MIME_GOOD(-0.10)',
          'X-Quarantine-Date: 2026-12-05T11:22:33Z',
        ];
  return [
    'Received: from mx.spam.example by mail.test.local',
    ...contract,
    'From: Spammer <spammer@spam.example>',
    `To: ${(opts.to ?? ['someone@example.com']).join(', ')}`,
    `Subject: ${opts.subject}`,
    `Message-ID: <${opts.subject.replace(/\W/g, '')}@spam.example>`,
    'MIME-Version: 1.0',
    'Content-Type: text/html; charset=utf-8',
    '',
    opts.body,
    '',
  ].join('\r\n');
}

/** APPENDs `message` to `user`'s INBOX (saved at `savedAt`); resolves its UID. */
export async function append(w: World, user: string, message: string, savedAt?: Date): Promise<number> {
  const client = await masterSession(w.dovecot, user);
  try {
    const r = await client.append('INBOX', message, [], savedAt);
    if (!r || !r.uid) throw new Error('APPEND gave no UID');
    return r.uid;
  } finally {
    await client.logout();
  }
}

/** The messages in `user`'s INBOX (source as text), in UID order. */
export async function inbox(
  w: World,
  user: string,
): Promise<{ uid: number; subject: string; source: string }[]> {
  const client = await masterSession(w.dovecot, user);
  try {
    const box = await client.mailboxOpen('INBOX', { readOnly: true });
    if (box.exists === 0) return [];
    const out: { uid: number; subject: string; source: string }[] = [];
    for await (const m of client.fetch('1:*', { uid: true, envelope: true, source: true })) {
      out.push({ uid: m.uid, subject: m.envelope?.subject ?? '', source: m.source!.toString('utf8') });
    }
    return out.sort((a, b) => a.uid - b.uid);
  } finally {
    await client.logout();
  }
}

/** Waits until `user`'s INBOX holds `count` messages; returns them. */
export async function waitForMail(w: World, user: string, count: number) {
  await expect
    .poll(async () => (await inbox(w, user)).length, { timeout: 60_000, interval: 200 })
    .toBe(count);
  return inbox(w, user);
}

/** The index as the job left it (newest first), read from Redis. */
export async function indexed(w: World, s: Setup): Promise<QuarantineItem[]> {
  const redis = connectRedis(w.redis.url);
  try {
    return (await new QuarantineStore(redis, (...p) => stateKey(s.prefix, ...p)).list()).items;
  } finally {
    await endConnection(redis);
  }
}

/** What release and delete need, for the config `file` of `s`; `close()` ends its Redis connection. */
export function actionContext(file: string, s: Setup): QuarantineActionContext & { close(): Promise<void> } {
  const redis = connectRedis(redisUrlOf(file));
  return {
    config: loadConfig(file),
    redis,
    key: (...p: string[]) => stateKey(s.prefix, ...p),
    log: silentLog,
    close: () => endConnection(redis),
  };
}

const redisUrlOf = (file: string): string => loadConfig(file).redis.url!;

/** `raw` without the header fields matching `drop` (each with its folded lines); the rest as is. */
export function withoutHeaders(raw: string, drop: RegExp): string {
  const end = raw.indexOf('\r\n\r\n');
  const kept: string[] = [];
  let dropping = false;
  for (const line of raw.slice(0, end).split('\r\n')) {
    if (!/^[ \t]/.test(line)) dropping = drop.test(line);
    if (!dropping) kept.push(line);
  }
  return `${kept.join('\r\n')}${raw.slice(end)}`;
}

/** `text` as a literal in a regular expression. */
export const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
