/**
 * Per-message LMTP answers after DATA, from a real Dovecot with a quota: a message larger
 * than the user's quota is refused at the end of DATA with 552 (5.2.2 quota exceeded), or with
 * 452 when Dovecot is told to make a full mailbox a temporary failure (`quota_full_tempfail`).
 * 5xx: that message is counted failed and stays remote, the run goes on. 4xx: the run stops,
 * the job is retried with backoff, and the retry delivers nothing twice.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import {
  deliverTo,
  mailbox,
  message,
  setQuota,
  startGetmailWorkers,
  traces,
  useWorld,
  writeWorldConfig,
} from './world.js';

const QUOTA_KB = 100;
const w = useWorld({ localQuotaKilobytes: QUOTA_KB });
let redis: Redis;
beforeAll(() => {
  redis = new Redis(w.redis.url);
});
afterAll(async () => {
  await redis?.quit();
});

/** Small messages around one over the quota; all on the remote account. */
async function account(name: string) {
  const remote = await w.remote.addUser(`r-${name}`);
  const local = await w.local.addUser(`l-${name}`);
  const big = message(`${name}-big`, `${'y'.repeat(76)}\r\n`.repeat(Math.ceil((QUOTA_KB * 2048) / 78)));
  const all = [message(`${name}-0`), message(`${name}-1`), big, message(`${name}-3`), message(`${name}-4`)];
  await deliverTo(w.remote, remote.user, all);
  return { remote, local, id: `${name}@remote.test` };
}

function messageIds(stored: { source: Buffer }[]): string[] {
  return stored.map((m) => /Message-ID: <([^@]+)@/.exec(m.source.toString('latin1'))?.[1] ?? '?').sort();
}

/**
 * With the quota answer set (`tempfail`: 452 rather than 552), a new account `name` whose remote
 * messages are fetched over POP3 and deleted there once delivered, and workers for its config.
 */
async function quotaRun(name: string, tempfail: boolean) {
  await setQuota(w.local, { kilobytes: QUOTA_KB, tempfail });
  const a = await account(name);
  const file = writeWorldConfig(w, [
    {
      id: a.id,
      protocol: 'pop3',
      user: a.remote.user,
      password: a.remote.password,
      deliverTo: a.local.user,
      delete: 'immediately',
    },
  ]);
  return { a, file, h: await startGetmailWorkers(w, file) };
}

describe('getmail: LMTP answers for one message during DATA (real Dovecot, quota)', () => {
  it('5xx: that message is counted failed and stays remote; the others are delivered; result and job log say so', async () => {
    const { a, file, h } = await quotaRun('refused', false);
    try {
      const { jobId } = await h.enqueue(a.id);
      const job = (await h.queue.getJob(jobId))!;
      const result = (await job.waitUntilFinished(h.events, 60_000)) as Record<string, number>;
      expect(result).toMatchObject({ fetched: 5, delivered: 4, failed: 1, deletedRemote: 4 });
      const { logs } = await h.queue.getJobLogs(jobId);
      const refused = logs.filter((l) => l.includes('refused by LMTP'));
      expect(refused).toEqual([
        expect.stringMatching(
          /^<refused-big@example\.org> \d+ bytes: refused by LMTP \(.*552 5\.2\.2 .*\); left on the server$/,
        ),
      ]);
      expect(logs.filter((l) => l.endsWith(': delivered'))).toHaveLength(4);
      expect(messageIds(await mailbox(w.local, a.local.user))).toEqual([
        'refused-0',
        'refused-1',
        'refused-3',
        'refused-4',
      ]);
      // delete: immediately removed the four delivered ones; the refused one is still there
      expect(messageIds(await mailbox(w.remote, a.remote.user))).toEqual(['refused-big']);
      expect(await redis.hlen(`{${loadConfig(file, {}).redis.prefix}}:state:getmail:${a.id}:inflight`)).toBe(
        0,
      );

      // The next run tries it again (it was not recorded as fetched), and it is refused again.
      const again = await h.enqueue(a.id);
      const second = (await (await h.queue.getJob(again.jobId))!.waitUntilFinished(
        h.events,
        60_000,
      )) as Record<string, number>;
      expect(second).toMatchObject({ fetched: 1, delivered: 0, failed: 1, deletedRemote: 0 });
      expect(await mailbox(w.local, a.local.user)).toHaveLength(4);
    } finally {
      await h.close();
    }
  });

  it('4xx: the run stops, the job is retried with backoff, the message stays remote; the retry delivers nothing twice', async () => {
    const { a, file, h } = await quotaRun('deferred', true);
    try {
      const { jobId } = await h.enqueue(a.id);
      // The first attempt fails and the job waits for its retry (exponential backoff, 30 s first).
      await expect
        .poll(async () => (await h.queue.getJob(jobId))?.attemptsMade, { timeout: 60_000, interval: 100 })
        .toBe(1);
      const failed = (await h.queue.getJob(jobId))!;
      expect(await failed.getState()).toBe('delayed');
      expect(failed.opts.backoff).toMatchObject({ type: 'exponential' });
      expect(failed.failedReason).toMatch(/LMTP message for <l-deferred> refused: 452 4\.2\.2 /);
      const { logs } = await h.queue.getJobLogs(jobId);
      expect(logs.filter((l) => l.includes('deferred by LMTP'))).toEqual([
        expect.stringMatching(
          /^<deferred-big@example\.org> \d+ bytes: deferred by LMTP \(.*452 4\.2\.2 .*\); left on the server, run stopped$/,
        ),
      ]);
      const before = await mailbox(w.local, a.local.user);
      expect(messageIds(before)).not.toContain('deferred-big');
      expect(messageIds(before)).toContain('deferred-0'); // the first delivery goes alone, before the big one
      // Nothing deleted remotely: a stopped run deletes nothing.
      expect(await mailbox(w.remote, a.remote.user)).toHaveLength(5);
      // Nothing left "in flight": the refused one and those marked ahead but never sent are cleared.
      const inflight = `{${loadConfig(file, {}).redis.prefix}}:state:getmail:${a.id}:inflight`;
      expect(await redis.hlen(inflight)).toBe(0);

      // The mailbox gets room; the retry (promoted rather than waiting out the backoff) delivers the rest.
      await setQuota(w.local, { kilobytes: QUOTA_KB * 10, tempfail: true });
      await failed.promote();
      const result = (await failed.waitUntilFinished(h.events, 60_000)) as Record<string, number>;
      expect(result).toMatchObject({ delivered: 5 - before.length, failed: 0, deletedRemote: 5 });
      const local = await mailbox(w.local, a.local.user);
      expect(messageIds(local)).toEqual([
        'deferred-0',
        'deferred-1',
        'deferred-3',
        'deferred-4',
        'deferred-big',
      ]);
      expect(new Set(traces(local)).size).toBe(5);
      expect(await mailbox(w.remote, a.remote.user)).toHaveLength(0);
    } finally {
      await h.close();
    }
  });
});
