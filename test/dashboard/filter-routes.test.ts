/**
 * The Filter page's API against real services: Rspamd's Bayes counters after real learns (each
 * against min_learns, 200), the recent learns without their messages, "Update now" running
 * freshclam until clamd runs the new daily, and the last spam-expunge run's result.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueJob } from '../../src/client/enqueue.js';
import { filterPage, type filterOverview } from '../../src/dashboard/pages/filter.js';
import { queueLearn } from '../../src/jobs/bayes-learn/body.js';
import { bayesLearnJob } from '../../src/jobs/bayes-learn/index.js';
import { bayesStatsJob } from '../../src/jobs/bayes-stats/index.js';
import { freshclamJob } from '../../src/jobs/freshclam/index.js';
import { registry } from '../../src/jobs/registry.js';
import { spamExpungeJob } from '../../src/jobs/spam-expunge/index.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import type { WorkerSet } from '../../src/worker/workers.js';
import { silentLog, startTestWorkers } from '../helpers/runtime.js';
import { call, nonGetRoutesAreAdminOnly } from './routes.js';
import { FIXTURE_DB_VERSION } from '../fixtures/clamd.js';
import { learnableMessage, NEW_DAILY, startFilterWorld, type FilterWorld } from './filter-world.js';

let w: FilterWorld;
let rt: Runtime;
let workers: WorkerSet;
type Overview = Awaited<ReturnType<typeof filterOverview>>;
const overview = () => call<Overview>(rt, filterPage, 'GET', '/filter/overview');

beforeAll(async () => {
  w = await startFilterWorld();
  rt = await openRuntime({
    configFlag: w.config(),
    jobs: registry,
    log: silentLog,
    startPrivateRedis: false,
  });
  workers = startTestWorkers(rt, [bayesLearnJob, bayesStatsJob, freshclamJob, spamExpungeJob]);
}, 180_000);
afterAll(async () => {
  await workers?.close();
  await rt?.close();
  await w?.stop();
});

async function settled(queue: string, id: string): Promise<string> {
  const job = await rt.queues.get(queue)!.getJob(id);
  await expect
    .poll(() => job!.getState(), { timeout: 90_000, interval: 200 })
    .toMatch(/^(completed|failed)$/);
  return job!.getState();
}

describe('Filter API', () => {
  it('declares every trigger admin-only', () => {
    expect(nonGetRoutesAreAdminOnly(filterPage)).toEqual([]);
  });

  it('shows Bayes training, spam and ham each against 200, and the recent learns', async () => {
    const before = await overview();
    expect(before.bayes).toMatchObject({ minLearns: 200, current: null });
    expect(before.bayes.row?.summary).toContain('no reading yet');

    const learns = [
      ['spam', 'alice'],
      ['spam', 'alice'],
      ['spam', 'bob'],
      ['ham', 'alice'],
      ['ham', 'bob'],
    ] as const;
    const ids: string[] = [];
    for (const [i, [cls, user]] of learns.entries()) {
      const message = learnableMessage(`filter-${cls}-${i}`);
      const o = await queueLearn(
        rt.queues.get('bayes-learn')!,
        { class: cls, user, message },
        { redis: rt.redis, prefix: rt.config.redis.prefix },
      );
      ids.push(o.jobId);
    }
    for (const id of ids) expect(await settled('bayes-learn', id)).toBe('completed');

    // Rspamd re-reads its Bayes counters from Redis every 30-60 s: read them until they show.
    const readCounters = async () => {
      const read = await call<{ status: string; jobId: string }>(
        rt,
        filterPage,
        'POST',
        '/filter/bayes-stats',
      );
      expect(read.status).toBe('queued');
      expect(await settled('bayes-stats', read.jobId)).toBe('completed');
      const d = (await overview()).bayes.row?.details;
      return `${String(d?.spam)}/${String(d?.ham)}`;
    };
    await expect.poll(readCounters, { timeout: 110_000, interval: 3000 }).toBe('3/2');

    const after = await overview();
    expect(after.bayes.row?.details).toMatchObject({ spam: 3, ham: 2, minLearns: 200, active: false });
    expect(after.bayes.row?.summary).toContain(
      'spam 3/200, ham 2/200: not active yet, needs 197 more spam and 198 more ham',
    );
    expect(after.learn.recent).toHaveLength(5);
    expect(after.learn.recent.map((l) => `${l.user}:${l.class}:${l.outcome}`).sort()).toEqual([
      'alice:ham:learned',
      'alice:spam:learned',
      'alice:spam:learned',
      'bob:ham:learned',
      'bob:spam:learned',
    ]);
    expect(JSON.stringify(after.learn)).not.toContain(
      learnableMessage('filter-spam-0').toString('base64').slice(0, 40),
    );
    expect(after.learn.rows.find((r) => r.target === 'learned')?.summary).toMatch(/^3 spam, 2 ham learned/);
  }, 150_000);

  it('"Update now" runs freshclam once until clamd runs the new daily', async () => {
    const before = await overview();
    expect(before.antivirus.row?.details).toMatchObject({ dbVersion: FIXTURE_DB_VERSION });
    expect(before.antivirus.lastJob).toBeNull();

    const first = await call<{ status: string; jobId: string }>(rt, filterPage, 'POST', '/filter/freshclam');
    expect(first.status).toBe('queued');
    const second = await call<{ status: string; jobId: string }>(rt, filterPage, 'POST', '/filter/freshclam');
    expect(second).toMatchObject({
      status: expect.stringMatching(/^(already-queued|running)$/),
      jobId: first.jobId,
    });
    expect(await settled('freshclam', first.jobId)).toBe('completed');

    const view = await call<{ state: string; result: Record<string, unknown> }>(
      rt,
      filterPage,
      'GET',
      `/filter/freshclam/${first.jobId}`,
    );
    expect(view.result).toMatchObject({
      updated: expect.arrayContaining(['daily.cud']),
      clamd: { dbVersion: NEW_DAILY },
    });
    const after = await overview();
    expect(after.antivirus.row).toMatchObject({
      details: { dbVersion: NEW_DAILY },
      run: { consecutiveFailures: 0, lastOutcome: 'success' },
    });
    expect(after.antivirus.row?.summary).toMatch(new RegExp(`^daily ${NEW_DAILY} built .*; last update ok`));
    expect(after.antivirus.lastJob).toMatchObject({ jobId: first.jobId });
    expect(after.antivirus.current).toBeNull();
  }, 120_000);

  it('shows the last spam-expunge run', async () => {
    expect((await overview()).expunge.row?.summary).toContain('no run yet');
    const o = await enqueueJob(
      rt.queues.get('spam-expunge')!,
      spamExpungeJob,
      {},
      { redis: rt.redis, prefix: rt.config.redis.prefix },
    );
    expect(await settled('spam-expunge', o.jobId)).toBe('completed');
    const after = await overview();
    expect(after.expunge.row).toMatchObject({
      severity: 'ok',
      run: { lastCounts: { users: 1, expunged: 0, errors: 0 } },
    });
    expect(after.expunge.row?.summary).toMatch(/last run ok \d+ s ago \(\d\d:\d\d\), 1 users, 0 expunged/);
  });
});
