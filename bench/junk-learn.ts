/**
 * bayes-learn throughput against a private Rspamd (Bayes in its own Redis): N distinct messages
 * queued, then one worker process (in this process) with concurrency C learns them; messages/s
 * from the first job to the last completion. The ceiling: the same number of direct,
 * sequential `/learnspam` calls, with no queue at all.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { pino } from 'pino';
import { queueLearn } from '../src/jobs/bayes-learn/body.js';
import { loadConfig } from '../src/config/load.js';
import { connectRedis, queuePrefix } from '../src/core/redis.js';
import { bayesLearnJob } from '../src/jobs/bayes-learn/index.js';
import { learn } from '../src/mail/rspamd.js';
import type { RspamdFixture } from '../test/fixtures/rspamd.js';
import { startTestWorkers } from '../test/helpers/runtime.js';

export interface LearnRow {
  how: string;
  messages: number;
  seconds: number;
  perSecond: number;
}

const WORDS =
  'offer price money bank transfer winner lottery claim prize discount pharmacy replica casino bonus profit invest account urgent'.split(
    ' ',
  );

/** A message of real-looking words plus a random token per line, so each one is new to Bayes. */
export function spamMessage(): Buffer {
  const lines = Array.from(
    { length: 12 },
    () =>
      Array.from({ length: 10 }, () => WORDS[randomBytes(1)[0]! % WORDS.length]).join(' ') +
      ` ${randomBytes(4).toString('hex')}`,
  );
  const id = randomBytes(8).toString('hex');
  return Buffer.from(
    `From: a@example.com\r\nTo: b@example.org\r\nSubject: offer ${id}\r\nMessage-ID: <${id}@example.com>\r\n\r\n${lines.join('\r\n')}\r\n`,
  );
}

export async function benchDirect(rspamd: RspamdFixture, n: number): Promise<LearnRow> {
  const messages = Array.from({ length: n }, spamMessage);
  const started = Date.now();
  for (const m of messages)
    await learn('spam', m, { controllerUrl: rspamd.controllerUrl, password: rspamd.password });
  const seconds = (Date.now() - started) / 1000;
  return { how: 'direct /learnspam, sequential (no queue)', messages: n, seconds, perSecond: n / seconds };
}

export async function benchWorker(
  rspamd: RspamdFixture,
  redisUrl: string,
  n: number,
  concurrency: number,
): Promise<LearnRow> {
  const prefix = `benchlearn${randomBytes(3).toString('hex')}`;
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'mailjobs-bench-learn-')), 'mailjobs.yaml');
  writeFileSync(
    file,
    [
      `redis: { url: "${redisUrl}", prefix: ${prefix} }`,
      `workers: { concurrency: { bayes-learn: ${concurrency} } }`,
      `rspamd: { controllerUrl: "${rspamd.controllerUrl}", passwordFile: ${rspamd.passwordFile} }`,
      'bayesLearn: { spoolDir: /nonexistent/mailjobs-bench }',
      '',
    ].join('\n'),
  );
  const config = loadConfig(file, {});
  const redis = connectRedis(redisUrl);
  const queue = new Queue('bayes-learn', { connection: redis, prefix: queuePrefix(prefix) });
  const events = new QueueEvents('bayes-learn', {
    connection: { url: redisUrl },
    prefix: queuePrefix(prefix),
  });
  await events.waitUntilReady();
  for (let i = 0; i < n; i++) {
    await queueLearn(queue, { class: 'spam', user: 'alice', message: spamMessage() }, { redis, prefix });
  }
  let done = 0;
  const finished = new Promise<void>((resolve) => {
    const count = () => ++done === n && resolve();
    events.on('completed', count);
    events.on('failed', count);
  });
  const started = Date.now();
  const log = pino({ level: 'silent' });
  const workers = startTestWorkers({ config, redisSettings: { url: redisUrl }, redis }, [bayesLearnJob], log);
  await finished;
  const seconds = (Date.now() - started) / 1000;
  await workers.close();
  await Promise.all([events.close(), queue.close()]);
  await redis.quit();
  return {
    how: `bayes-learn worker, concurrency ${concurrency}`,
    messages: n,
    seconds,
    perSecond: n / seconds,
  };
}
