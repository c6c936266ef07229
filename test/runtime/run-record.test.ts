/**
 * The run record: what an admin reads in `status` after runs succeed and fail.
 */
import { describe, expect, it } from 'vitest';
import { stateKey } from '../../src/core/redis.js';
import { RunRecordStore } from '../../src/worker/run-record.js';
import { usePrivateRedis } from '../helpers/private-redis.js';

const r = usePrivateRedis();
const key = (...parts: string[]): string => stateKey('rr', ...parts);

describe('run record', () => {
  it('counts failures in a row, resets them on success, keeps the last error visible', async () => {
    const runs = new RunRecordStore(r.redis, key);
    await runs.started('getmail', 'a@example.com', 1000);
    await runs.failed('getmail', 'a@example.com', 'password refused', 50, 1100);
    await runs.started('getmail', 'a@example.com', 2000);
    await runs.failed('getmail', 'a@example.com', 'password refused', 60, 2100);
    expect(await runs.read('getmail', 'a@example.com')).toEqual({
      job: 'getmail',
      target: 'a@example.com',
      lastStartAt: 2000,
      lastFailureAt: 2100,
      lastError: 'password refused',
      lastErrorPermanent: false,
      lastDurationMs: 60,
      lastOutcome: 'failure',
      consecutiveFailures: 2,
      failingSince: 1100,
    });
    await runs.succeeded('getmail', 'a@example.com', { delivered: 3 }, 70, 3100);
    const after = await runs.read('getmail', 'a@example.com');
    expect(after).toMatchObject({
      consecutiveFailures: 0,
      lastSuccessAt: 3100,
      lastOutcome: 'success',
      lastCounts: { delivered: 3 },
      lastError: 'password refused',
      lastFailureAt: 2100,
    });
    expect(after).not.toHaveProperty('failingSince');
  });

  it('says what a failure was, and a stopped run neither fails nor succeeds', async () => {
    const runs = new RunRecordStore(r.redis, key);
    await runs.failed('sync-b', 't', 'auth_failed_source: refused', 10, 1000, {
      code: 'auth_failed_source',
      permanent: true,
    });
    expect(await runs.read('sync-b', 't')).toMatchObject({
      lastErrorCode: 'auth_failed_source',
      lastErrorPermanent: true,
    });
    await runs.failed('sync-b', 't', 'timed out', 10, 2000);
    const second = await runs.read('sync-b', 't');
    expect(second).toMatchObject({ lastErrorPermanent: false, consecutiveFailures: 2, failingSince: 1000 });
    expect(second).not.toHaveProperty('lastErrorCode');
    await runs.cancelled('sync-b', 't', 'cancelled by alice', 10, 3000);
    expect(await runs.read('sync-b', 't')).toMatchObject({
      lastOutcome: 'cancelled',
      lastCancelledAt: 3000,
      lastCancelReason: 'cancelled by alice',
      consecutiveFailures: 2,
      failingSince: 1000,
      lastFailureAt: 2000,
    });
  });

  it('lists every target of a job, and forgets one', async () => {
    const runs = new RunRecordStore(r.redis, key);
    await runs.succeeded('imapsync', 'task-b', {}, 1);
    await runs.succeeded('imapsync', 'task-a', {}, 1);
    expect((await runs.list('imapsync')).map((x) => x.target)).toEqual(['task-a', 'task-b']);
    await runs.forget('imapsync', 'task-a');
    expect((await runs.list('imapsync')).map((x) => x.target)).toEqual(['task-b']);
    expect(await runs.read('imapsync', 'task-a')).toBeUndefined();
  });
});
