/**
 * queue-monitor against a private Postfix whose relayhost does not answer, so mail stays
 * deferred: what an admin checks on the Queue page (counts, chart data, listing), the actions
 * (delete one, resend one, resend all once a relay answers), and that a malformed queue id
 * runs nothing.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { closeQueues, openQueues } from '../../src/core/queues.js';
import { connectRedis, stateKey, type RedisClient } from '../../src/core/redis.js';
import { listQueue, queueMonitorJob, recentActions } from '../../src/jobs/queue-monitor/index.js';
import { postfixTarget, queueSeries } from '../../src/jobs/queue-monitor/processor.js';
import { RunRecordStore } from '../../src/worker/run-record.js';
import type { PostfixFixture } from '../fixtures/postfix.js';
import type { RedisFixture } from '../fixtures/redis.js';
import { startDeferredQueue } from '../helpers/deferred-queue.js';
import { freshPrefix, runCli, writeConfig } from '../helpers/runtime.js';

const jobs = [queueMonitorJob];
let redisFx: RedisFixture;
let redis: RedisClient;
let postfix: PostfixFixture;
let configFile: string;

beforeAll(async () => {
  ({ redisFx, postfix, configFile } = await startDeferredQueue());
  redis = connectRedis(redisFx.url);
});
afterAll(async () => {
  await redis?.quit();
  await Promise.allSettled([postfix?.stop(), redisFx?.stop()]);
});

async function run(payload: object, file = configFile) {
  const r = await runCli(['run', 'queue-monitor', JSON.stringify(payload), '--config', file], jobs);
  return { ...r, result: r.code === 0 ? (JSON.parse(r.out) as Record<string, unknown>) : undefined };
}

const statusLine = async (file = configFile) =>
  (await runCli(['status', 'queue-monitor', '--config', file], jobs)).out
    .split('\n')
    .find((l) => l.includes(' queue  '));

describe('queue-monitor with a real Postfix', () => {
  it('deferred messages appear in the sample, the time series, status and the listing', async () => {
    const queued = await postfix.queue();
    const bytes = queued.reduce((n, m) => n + m.message_size, 0);
    const sample = await run({ action: 'sample' });
    expect(sample.code, sample.err).toBe(0);
    expect(sample.result).toMatchObject({
      action: 'sample',
      queues: { deferred: { count: 3, bytes }, active: { count: 0 }, hold: { count: 0 } },
      total: { count: 3, bytes },
    });

    const config = loadConfig(configFile, {});
    const series = await queueSeries({
      redis,
      config,
      key: (...p) => stateKey(config.redis.prefix, ...p),
    }).read();
    expect(series.at(-1)).toMatchObject({ resolution: 'full', queues: { deferred: { count: 3, bytes } } });

    expect(await statusLine()).toMatch(
      /^ {4}queue {2}maildrop 0, incoming 0, active 0, deferred 3, hold 0 \(\d+ KB\); sampled \d+ s ago \(\d\d:\d\d\)$/,
    );

    const page = await listQueue(postfixTarget(config), { queue: ['deferred'], limit: 2 });
    expect(page.matched).toBe(3);
    expect(page.messages).toHaveLength(2);
    const rest = await listQueue(postfixTarget(config), { queue: ['deferred'], after: page.nextCursor! });
    const all = [...page.messages, ...rest.messages];
    expect(new Set(all.map((m) => m.queueId))).toEqual(new Set(queued.map((m) => m.queue_id)));
    expect(rest.nextCursor).toBeUndefined();
    const one = await listQueue(postfixTarget(config), { sender: 'SENDER2@' });
    expect(one.messages).toHaveLength(1);
    expect(one.messages[0]).toMatchObject({
      sender: 'sender2@example.org',
      queue: 'deferred',
      recipients: [
        {
          address: 'rcpt2@example.net',
          delayReason: expect.stringContaining(`:${postfix.relayPort}: Connection refused`),
        },
      ],
    });
    expect(Date.now() - one.messages[0]!.arrivalTime).toBeLessThan(5 * 60_000);
  });

  it('refuses a malformed queue id with the field named, and runs nothing', async () => {
    const before = (await postfix.queue()).map((m) => m.queue_id).sort();
    for (const queueId of ['ALL;rm -rf /', '-d', 'e4acc210004']) {
      const r = await run({ action: 'delete', queueId });
      expect(r.code).toBe(2);
      expect(r.err).toContain('invalid queue-monitor payload: queueId: not a Postfix queue id');
    }
    const enqueued = await runCli(
      ['enqueue', 'queue-monitor', '{"action":"resend","queueId":"--help"}', '--config', configFile],
      jobs,
    );
    expect(enqueued.code).toBe(2);
    expect(enqueued.err).toMatch(
      /^mailjobs enqueue: invalid queue-monitor payload: queueId: not a Postfix queue id/,
    );
    const config = loadConfig(configFile, {});
    const queues = openQueues(jobs, redisFx.url, config.redis.prefix);
    try {
      const counts = await queues.get('queue-monitor')!.getJobCounts();
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
    } finally {
      await closeQueues(queues);
    }
    expect((await postfix.queue()).map((m) => m.queue_id).sort()).toEqual(before);
  });

  it('delete one removes that message only; an id no longer queued deletes nothing', async () => {
    const victim = (await postfix.queue()).find((m) => m.sender === 'sender1@example.org')!;
    const r = await run({ action: 'delete', queueId: victim.queue_id });
    expect(r.result).toEqual({ action: 'delete', queueId: victim.queue_id, deleted: 1 });
    const left = await postfix.queue();
    expect(left.map((m) => m.sender).sort()).toEqual(['sender2@example.org', 'sender3@example.org']);
    expect((await run({ action: 'delete', queueId: victim.queue_id })).result).toMatchObject({ deleted: 0 });
    const config = loadConfig(configFile, {});
    const actions = await recentActions({ redis, key: (...p) => stateKey(config.redis.prefix, ...p) });
    expect(actions.map(({ action, queueId, deleted }) => ({ action, queueId, deleted }))).toEqual([
      { action: 'delete', queueId: victim.queue_id, deleted: 0 },
      { action: 'delete', queueId: victim.queue_id, deleted: 1 },
    ]);
    // The run record keeps admin actions under one target, not one per queue id.
    const runs = await new RunRecordStore(redis, (...p) => stateKey(config.redis.prefix, ...p)).list(
      'queue-monitor',
    );
    expect(runs.map((r) => r.target)).toEqual(['actions', 'sample']);
    expect(runs[0]).toMatchObject({ consecutiveFailures: 0, lastCounts: { action: 'delete', deleted: 0 } });
  });

  it('once a relay answers, resend one delivers that message and resend all empties the queue', async () => {
    const received: { rcpt: string[]; subject: string }[] = [];
    const sink = new SMTPServer({
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      logger: false,
      onData(stream, session, callback) {
        let data = '';
        stream.on('data', (d: Buffer) => (data += d.toString()));
        stream.on('end', () => {
          received.push({
            rcpt: session.envelope.rcptTo.map((a) => a.address),
            subject: /^Subject: (.*)$/m.exec(data)?.[1] ?? '',
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    try {
      await postfix.setRelayPort((sink.server.address() as AddressInfo).port);
      const second = (await postfix.queue()).find((m) => m.sender === 'sender2@example.org')!;
      expect((await run({ action: 'resend', queueId: second.queue_id })).result).toEqual({
        action: 'resend',
        queueId: second.queue_id,
      });
      await postfix.waitForQueue((q) => q.length === 1 && q[0]!.sender === 'sender3@example.org');
      expect(received).toEqual([{ rcpt: ['rcpt2@example.net'], subject: 'queued 2' }]);

      expect((await run({ action: 'resend' })).result).toEqual({ action: 'resend', queueId: 'ALL' });
      await postfix.waitForQueue((q) => q.length === 0);
      await expect.poll(() => received.length, { timeout: 30_000 }).toBe(2);
      expect(received[1]).toEqual({ rcpt: ['rcpt3@example.net'], subject: 'queued 3' });
      expect((await run({ action: 'sample' })).result).toMatchObject({ total: { count: 0, bytes: 0 } });
    } finally {
      await new Promise<void>((resolve) => sink.close(() => resolve()));
    }
  });

  it('a sample that fails is flagged by status with the reason, and clears on the next success', async () => {
    const prefix = freshPrefix();
    const broken = writeConfig(
      redisFx.url,
      prefix,
      `postfix: { configDir: ${postfix.dir}/missing, commandDirectory: ${postfix.commandDirectory} }\n`,
    );
    const r = await run({ action: 'sample' }, broken);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${postfix.dir}/missing/main.cf`);
    expect(await statusLine(broken)).toMatch(
      /^ {2}~ queue {2}no sample yet; sampling failing \(1x\) since \d+ s ago \(\d\d:\d\d\): postqueue .*main\.cf/,
    );
    const fixed = writeConfig(
      redisFx.url,
      prefix,
      `postfix: { configDir: ${postfix.configDir}, commandDirectory: ${postfix.commandDirectory} }\n`,
    );
    expect((await run({ action: 'sample' }, fixed)).code).toBe(0);
    expect(await statusLine(fixed)).toMatch(/^ {4}queue {2}.*; sampled \d+ s ago \(\d\d:\d\d\)$/);
  });
});
