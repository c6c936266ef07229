/**
 * The world the Filter page is tested in: a queue Redis; Rspamd with its own Bayes Redis; a
 * clamd with the freshclam test's local mirror (custom databases: the fixture's daily 27000 on
 * disk, 27001 waiting on the mirror); a Dovecot with one user for spam-expunge. The config
 * points every job at them; `stop()` takes it all down.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startClamd, type ClamdFixture } from '../fixtures/clamd.js';
import { startDovecot, type DovecotFixture } from '../fixtures/dovecot.js';
import { buildDaily, hdbSignature, startMirror, type MirrorFixture } from '../fixtures/mirror.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { startRspamd, type RspamdFixture } from '../fixtures/rspamd.js';
import { textMessage } from '../junk/mailboxes.js';
import { freshPrefix, writeConfig } from '../helpers/runtime.js';

export const NEW_DAILY = 27001;

export interface FilterWorld {
  redis: RedisFixture;
  rspamd: RspamdFixture;
  clamd: ClamdFixture;
  mirror: MirrorFixture;
  dovecot: DovecotFixture;
  /** A config for this world with a fresh prefix (spam-expunge for `alice`); `extra` YAML lines appended. */
  config(extra?: string[]): string;
  stop(): Promise<void>;
}

export async function startFilterWorld(): Promise<FilterWorld> {
  const [redis, bayesRedis, clamd, mirror, dovecot] = await Promise.all([
    startRedis(),
    startRedis(),
    startClamd(),
    startMirror(),
    startDovecot(),
  ]);
  const rspamd = await startRspamd({ redisUrl: bayesRedis.url });
  const dir = await mkdtemp(path.join(tmpdir(), 'mailjobs-filter-world-'));
  await mirror.put('extra.hdb', hdbSignature('mailjobs filter page test\n', 'Mailjobs.Test.FilterPage'));
  await mirror.put('daily.cud', await buildDaily(dir, NEW_DAILY));
  const freshclamConf = path.join(dir, 'freshclam.conf');
  await writeFile(
    freshclamConf,
    [
      `DatabaseDirectory ${clamd.dbDir}`,
      `UpdateLogFile ${dir}/freshclam.log`,
      ...(process.getuid?.() === 0 ? ['DatabaseOwner root'] : []),
      'DNSDatabaseInfo no',
      `DatabaseMirror 127.0.0.1:${mirror.port}`,
      'ExcludeDatabase daily',
      'ExcludeDatabase main',
      'ExcludeDatabase bytecode',
      `DatabaseCustomURL ${mirror.url('extra.hdb')}`,
      `DatabaseCustomURL ${mirror.url('daily.cud')}`,
      'MaxAttempts 1',
      `NotifyClamd ${clamd.configFile}`,
      '',
    ].join('\n'),
  );
  await dovecot.addUser('alice');
  return {
    redis,
    rspamd,
    clamd,
    mirror,
    dovecot,
    config: (extra = []) =>
      writeConfig(
        redis.url,
        freshPrefix(),
        [
          `rspamd: { controllerUrl: "${rspamd.controllerUrl}", passwordFile: ${rspamd.passwordFile}, timeoutSeconds: 10 }`,
          `bayesLearn: { trainers: [alice, bob], spoolDir: ${dir}/spool }`,
          `clamd: { socket: ${clamd.socket}, timeoutSeconds: 10 }`,
          `freshclam: { configFile: ${freshclamConf}, reloadTimeoutSeconds: 30 }`,
          'dovecot:',
          `  imap: { host: 127.0.0.1, port: ${dovecot.imapPort}, security: none }`,
          `  masterPasswordFile: ${dovecot.masterPasswordFile}`,
          'spamExpunge: { users: [alice] }',
          ...extra,
          '',
        ].join('\n'),
      ),
    async stop() {
      await Promise.allSettled([rspamd.stop(), clamd.stop(), mirror.stop(), dovecot.stop()]);
      await Promise.allSettled([redis.stop(), bayesRedis.stop()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const WORDS =
  'price offer money account bank transfer urgent winner lottery claim prize discount pharmacy watches replica casino bonus investment crypto profit guaranteed meeting agenda minutes project report budget schedule review team quarter'.split(
    ' ',
  );

/** A message with enough distinct words for Bayes to take it. */
export function learnableMessage(id: string): Buffer {
  const body = Array.from(
    { length: 60 },
    (_, i) => `${WORDS[(i * 7 + id.length) % WORDS.length]}${i % 5 === 0 ? id : ''}`,
  ).join(' ');
  return textMessage(id, `Message ${id}`, body);
}
