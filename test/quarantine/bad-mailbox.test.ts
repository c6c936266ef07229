/**
 * A `mailbox` that is not an address, through the real chain: Rspamd says so in its log at
 * start, and spam is rejected at SMTP as without the quarantine, never delivered anywhere.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startPostfix, type PostfixFixture } from '../fixtures/postfix.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { startRspamd, type RspamdFixture } from '../fixtures/rspamd.js';
import { postfixMainCf, rspamdFiles } from './install.js';

const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
let redis: RedisFixture;
let rspamd: RspamdFixture;
let postfix: PostfixFixture;

beforeAll(async () => {
  redis = await startRedis();
  rspamd = await startRspamd({
    redisUrl: redis.url,
    milter: true,
    localFiles: await rspamdFiles('quarantine'),
  });
  // No local domain: had anything been accepted, it would wait in the queue (relayhost unreachable).
  postfix = await startPostfix({ mainCfExtra: await postfixMainCf(rspamd.milterPort as number) });
});
afterAll(async () => {
  await Promise.allSettled([postfix?.stop(), rspamd?.stop()]);
  await redis?.stop();
});

it('logs the bad mailbox and keeps rejecting spam at SMTP', async () => {
  const log = await readFile(path.join(rspamd.dir, 'rspamd.log'), 'utf8');
  expect(log).toContain(
    'mailjobs_quarantine: mailbox "quarantine" is not an address: spam is rejected, not quarantined',
  );
  const spam = {
    from: 'spammer@example.org',
    to: ['alice@example.com'],
    data: `Subject: offer\r\n\r\n${GTUBE}\r\n`,
  };
  await expect(postfix.inject(1, () => spam)).rejects.toThrow(
    /expected 250, got "554 5\.7\.1 Gtube pattern"/,
  );
  expect(await postfix.queue()).toEqual([]);
});
