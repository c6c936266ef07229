/**
 * The Queue page's API against a private Postfix whose relay does not answer (mail stays
 * deferred) and real queue-monitor workers: the chart's series, the paged listing, delete one
 * message and delete all through queue-monitor jobs, and the actions refused by its schema.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueJob } from '../../src/client/enqueue.js';
import { queuePage } from '../../src/dashboard/pages/queue.js';
import { queueMonitorJob } from '../../src/jobs/queue-monitor/index.js';
import { registry } from '../../src/jobs/registry.js';
import type { QueueListPage } from '../../src/jobs/queue-monitor/listing.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import type { WorkerSet } from '../../src/worker/workers.js';
import type { PostfixFixture } from '../fixtures/postfix.js';
import type { RedisFixture } from '../fixtures/redis.js';
import { startDeferredQueue } from '../helpers/deferred-queue.js';
import { silentLog, startTestWorkers } from '../helpers/runtime.js';
import { call, nonGetRoutesAreAdminOnly, routeFor } from './routes.js';

let redisFx: RedisFixture;
let postfix: PostfixFixture;
let rt: Runtime;
let workers: WorkerSet;

beforeAll(async () => {
  let configFile: string;
  ({ redisFx, postfix, configFile } = await startDeferredQueue());
  rt = await openRuntime({
    configFlag: configFile,
    jobs: registry,
    log: silentLog,
    startPrivateRedis: false,
  });
  workers = startTestWorkers(rt, [queueMonitorJob]);
}, 120_000);
afterAll(async () => {
  await workers?.close();
  await rt?.close();
  await Promise.allSettled([postfix?.stop(), redisFx?.stop()]);
});

async function finished(jobId: string) {
  await expect
    .poll(async () => (await call<{ state: string }>(rt, queuePage, 'GET', `/queue/jobs/${jobId}`)).state, {
      timeout: 30_000,
      interval: 100,
    })
    .toMatch(/^(completed|failed)$/);
  return call<{ state: string; result: Record<string, unknown> }>(
    rt,
    queuePage,
    'GET',
    `/queue/jobs/${jobId}`,
  );
}

async function sample() {
  const o = await enqueueJob(
    rt.queues.get('queue-monitor')!,
    queueMonitorJob,
    { action: 'sample' },
    { redis: rt.redis, prefix: rt.config.redis.prefix },
  );
  expect((await finished(o.jobId)).state).toBe('completed');
}

const list = (query: Record<string, string>) =>
  call<QueueListPage>(rt, queuePage, 'GET', '/queue/messages', query);
type Series = {
  minutes: number;
  points: { t: number; count: number; bytes: number; queues: Record<string, number> }[];
  lastSampleAt: number | null;
};

describe('Queue API', () => {
  it('declares every trigger admin-only, and refuses what queue-monitor refuses', () => {
    expect(nonGetRoutesAreAdminOnly(queuePage)).toEqual([]);
    const { route } = routeFor(queuePage, 'POST', '/queue/actions');
    expect(route.input!.safeParse({ action: 'sample' }).success).toBe(false);
    expect(route.input!.safeParse({ action: 'delete', queueId: 'ALL;rm -rf /' }).success).toBe(false);
    expect(route.input!.safeParse({ action: 'delete' }).success).toBe(false);
    expect(route.input!.safeParse({ action: 'resend' }).success).toBe(true);
  });

  it('gives the chart its points over the window, messages and bytes', async () => {
    const empty = await call<Series>(rt, queuePage, 'GET', '/queue/series', { minutes: '15' });
    expect(empty).toEqual({ minutes: 15, points: [], lastSampleAt: null });
    await sample();
    await sample();
    const bytes = (await postfix.queue()).reduce((n, m) => n + m.message_size, 0);
    const s = await call<Series>(rt, queuePage, 'GET', '/queue/series', { minutes: '15' });
    expect(s.points).toHaveLength(2);
    expect(s.points[1]).toMatchObject({ count: 3, bytes, queues: { deferred: 3, active: 0 } });
    expect(s.points[0]!.t).toBeLessThanOrEqual(s.points[1]!.t);
    expect(Date.now() - s.lastSampleAt!).toBeLessThan(30_000);
  });

  it('lists the queue in pages, filtered', async () => {
    const first = await list({ limit: '2' });
    expect(first).toMatchObject({ matched: 3, scanned: 3 });
    expect(first.messages).toHaveLength(2);
    const rest = await list({ limit: '2', after: first.nextCursor! });
    expect(rest.messages).toHaveLength(1);
    expect(rest.nextCursor).toBeUndefined();
    const ids = [...first.messages, ...rest.messages].map((m) => m.queueId).sort();
    expect(ids).toEqual((await postfix.queue()).map((m) => m.queue_id).sort());
    const one = await list({ queue: 'deferred,hold', sender: 'sender2' });
    expect(one.messages.map((m) => m.sender)).toEqual(['sender2@example.org']);
    expect(one.messages[0]!.recipients[0]).toMatchObject({
      address: 'rcpt2@example.net',
      delayReason: expect.stringContaining('Connection refused'),
    });
    await expect(list({ queue: 'nonsense' })).rejects.toMatchObject({ status: 400 });
  });

  it('deletes one message, then all, through queue-monitor jobs, and lists the actions', async () => {
    const [victim] = (await list({ sender: 'sender1' })).messages;
    const asked = await call<{ status: string; jobId: string }>(rt, queuePage, 'POST', '/queue/actions', {
      action: 'delete',
      queueId: victim!.queueId,
    });
    expect(asked.status).toBe('queued');
    expect((await finished(asked.jobId)).result).toEqual({
      action: 'delete',
      queueId: victim!.queueId,
      deleted: 1,
    });
    const left = await list({});
    expect(left.messages.map((m) => m.queueId)).not.toContain(victim!.queueId);
    expect(left.matched).toBe(2);

    const resend = await call<{ jobId: string }>(rt, queuePage, 'POST', '/queue/actions', {
      action: 'resend',
      queueId: 'ALL',
    });
    expect((await finished(resend.jobId)).state).toBe('completed');
    const all = await call<{ jobId: string }>(rt, queuePage, 'POST', '/queue/actions', {
      action: 'delete',
      queueId: 'ALL',
    });
    expect((await finished(all.jobId)).result).toMatchObject({
      action: 'delete',
      queueId: 'ALL',
      deleted: 2,
    });
    expect((await list({})).matched).toBe(0);

    const actions = await call<{ action: string; queueId: string; jobId: string }[]>(
      rt,
      queuePage,
      'GET',
      '/queue/actions',
    );
    expect(actions.map((a) => `${a.action} ${a.queueId}`)).toEqual([
      'delete ALL',
      'resend ALL',
      `delete ${victim!.queueId}`,
    ]);
  });
});
