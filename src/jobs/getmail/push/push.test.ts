import { afterEach, describe, expect, it, vi } from 'vitest';
import type { EnqueueOutcome } from '../../../client/enqueue.js';
import type { ConnectorConfig } from '../../../config/schema.js';
import { createLogger } from '../../../core/logger.js';
import { backoffMs, idleFolderOf } from './account-watch.js';
import { pushView, type PushState } from './state.js';
import { FetchTrigger } from './trigger.js';

const outcome = (status: EnqueueOutcome['status']): EnqueueOutcome =>
  ({ status, jobId: 'j', target: 'a' }) as EnqueueOutcome;

describe('FetchTrigger', () => {
  afterEach(() => vi.useRealTimers());

  it('queues the first event at once and folds a burst into one more fetch after the window', async () => {
    vi.useFakeTimers();
    const enqueue = vi.fn(async () => outcome('queued'));
    const t = new FetchTrigger(enqueue, 1000, createLogger('silent'));
    t.fire();
    expect(enqueue).toHaveBeenCalledTimes(1);
    for (let i = 0; i < 50; i++) t.fire();
    await vi.advanceTimersByTimeAsync(999);
    expect(enqueue).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(enqueue).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(5000);
    expect(enqueue).toHaveBeenCalledTimes(2);
    t.close();
  });

  it('asks again while a fetch is running (it may have listed the folder before the mail came)', async () => {
    vi.useFakeTimers();
    const answers = [outcome('running'), outcome('running'), outcome('queued')];
    const enqueue = vi.fn(async () => answers.shift() ?? outcome('already-queued'));
    const t = new FetchTrigger(enqueue, 500, createLogger('silent'));
    t.fire();
    await vi.advanceTimersByTimeAsync(500);
    await vi.advanceTimersByTimeAsync(500);
    expect(enqueue).toHaveBeenCalledTimes(3);
    await vi.advanceTimersByTimeAsync(5000);
    expect(enqueue).toHaveBeenCalledTimes(3);
    t.close();
  });

  it('retries after the window when Redis refuses, and stops once closed', async () => {
    vi.useFakeTimers();
    const enqueue = vi.fn(async (): Promise<EnqueueOutcome> => {
      throw new Error('Connection is closed.');
    });
    const t = new FetchTrigger(enqueue, 300, createLogger('silent'));
    t.fire();
    await vi.advanceTimersByTimeAsync(300);
    expect(enqueue).toHaveBeenCalledTimes(2);
    t.close();
    await vi.advanceTimersByTimeAsync(3000);
    expect(enqueue).toHaveBeenCalledTimes(2);
  });
});

describe('watch helpers', () => {
  const connector = (over: Partial<ConnectorConfig>): ConnectorConfig =>
    ({ id: 'a@x', protocol: 'imap', enabled: true, folders: ['INBOX'], ...over }) as ConnectorConfig;

  it('IDLEs on INBOX when it is fetched, else on the first folder', () => {
    expect(idleFolderOf(connector({ folders: ['Archive', 'inbox'] }))).toEqual({
      folder: 'inbox',
      others: ['Archive'],
    });
    expect(idleFolderOf(connector({ folders: ['News', 'Lists'] }))).toEqual({
      folder: 'News',
      others: ['Lists'],
    });
    expect(idleFolderOf(connector({ folders: 'all' }))).toEqual({ folder: 'INBOX', others: 'personal' });
  });

  it('backs off exponentially with jitter, up to the maximum', () => {
    for (let attempt = 0; attempt < 30; attempt++) {
      const ms = backoffMs(attempt, 300_000);
      const ceiling = Math.min(300_000, 1000 * 2 ** attempt);
      expect(ms).toBeGreaterThanOrEqual(ceiling / 2);
      expect(ms).toBeLessThanOrEqual(ceiling);
    }
  });

  it('says why an account is not watched', () => {
    const state: PushState = { phase: 'watching', holder: 'h', since: 1, folder: 'INBOX', polled: [] };
    expect(pushView(connector({ protocol: 'pop3' }), undefined, undefined).text).toBe('POP3 has no IDLE');
    expect(pushView(connector({ enabled: false }), state, 'h').state).toBe('off');
    expect(pushView(connector({ push: false }), state, 'h').text).toBe('push: false in the config');
    expect(pushView(connector({}), state, undefined).state).toBe('waiting-for-lease');
    expect(pushView(connector({}), state, 'other').state).toBe('waiting-for-lease');
    expect(pushView(connector({}), state, 'h')).toMatchObject({ state: 'watching', since: 1 });
    expect(pushView(connector({}), { ...state, phase: 'no-idle', reason: 'no IDLE' }, 'h').state).toBe(
      'no-idle',
    );
  });
});
