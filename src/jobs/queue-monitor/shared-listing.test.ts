import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { queuePage } from '../../dashboard/pages/queue.js';
import type { DashboardDeps } from '../../dashboard/types.js';
import type { Runtime } from '../../runtime.js';
import type { PostfixTarget } from '../../mail/postfix.js';
import { SharedQueueListing } from './shared-listing.js';

/**
 * A fake `postqueue -j` that notes each start, notes an overlap when another runs, and lists
 * one message once the test creates `release` (or fails when `fail` exists).
 */
function fakeQueue() {
  const dir = mkdtempSync(join(tmpdir(), 'mailjobs-sharedqueue-'));
  const record = {
    queue_name: 'deferred',
    queue_id: 'A00001',
    arrival_time: 1_700_000_000,
    message_size: 10,
    sender: 's@example.org',
    recipients: [{ address: 'r@example.net' }],
  };
  writeFileSync(join(dir, 'queue.jsonl'), `${JSON.stringify(record)}\n`);
  writeFileSync(
    join(dir, 'postqueue'),
    [
      '#!/bin/sh',
      'cd "$(dirname "$0")"',
      'echo "$*" >> starts',
      'mkdir running 2>/dev/null || echo overlap >> overlaps',
      'while [ ! -e release ]; do sleep 0.02; done',
      'rmdir running 2>/dev/null',
      '[ -e fail ] && { echo "postqueue: fatal: broken" >&2; exit 1; }',
      'cat queue.jsonl',
    ].join('\n'),
  );
  chmodSync(join(dir, 'postqueue'), 0o755);
  const target: PostfixTarget = { configDir: '/etc/postfix', commandDirectory: dir };
  const lines = (name: string) =>
    existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8').trim().split('\n') : [];
  return {
    target,
    starts: () => lines('starts').length,
    overlaps: () => lines('overlaps').length,
    release: () => writeFileSync(join(dir, 'release'), ''),
    fail: () => writeFileSync(join(dir, 'fail'), ''),
  };
}

describe('SharedQueueListing', () => {
  it('runs one postqueue at a time; concurrent requests for a page share it; a page is reused briefly', async () => {
    const q = fakeQueue();
    const shared = new SharedQueueListing(60_000);
    const same = Array.from({ length: 10 }, () => shared.get(q.target, { limit: 20 }));
    const other = shared.get(q.target, { limit: 20, order: 'newest' });
    await expect.poll(q.starts).toBe(1);
    q.release();
    const pages = await Promise.all([...same, other]);
    expect(pages.map((p) => p.messages.map((m) => m.queueId))).toEqual(Array(11).fill(['A00001']));
    expect([q.starts(), q.overlaps()]).toEqual([2, 0]);
    await shared.get(q.target, { limit: 20 }); // within ttlMs: the page already read
    expect(q.starts()).toBe(2);
    await shared.get(q.target, { limit: 20 }, {}, 'job-7'); // the queue changed since: read again
    expect(q.starts()).toBe(3);
  });

  it('reads again once ttlMs has passed, and never keeps a failure', async () => {
    const q = fakeQueue();
    q.release();
    const shared = new SharedQueueListing(0);
    await shared.get(q.target, {});
    await shared.get(q.target, {});
    expect(q.starts()).toBe(2);
    q.fail();
    const failing = new SharedQueueListing(60_000);
    const both = [failing.get(q.target, {}), failing.get(q.target, {})];
    for (const r of await Promise.allSettled(both)) expect(r.status).toBe('rejected');
    expect(q.starts()).toBe(3);
    await expect(failing.get(q.target, {})).rejects.toThrow(/broken/);
    expect(q.starts()).toBe(4);
  });

  it("is what the Queue page's listing route uses: ten parallel requests, one postqueue", async () => {
    const q = fakeQueue();
    const rt = {
      config: { postfix: { ...q.target, timeoutSeconds: 30 } },
      redis: { lrange: async () => [] }, // no queue action yet
      key: (...parts: string[]) => parts.join(':'),
    } as unknown as Runtime;
    const deps = { rt, queueListing: new SharedQueueListing() } as Pick<
      DashboardDeps,
      'rt' | 'queueListing'
    > as DashboardDeps;
    const route = queuePage.routes.find((r) => r.method === 'GET' && r.path === '/queue/messages')!;
    const user = { name: 'v', role: 'viewer' } as const;
    const input = route.input!.parse({});
    const answers = Array.from({ length: 10 }, () => route.handle({ input, params: {}, user }, deps));
    await expect.poll(q.starts).toBe(1);
    q.release();
    await Promise.all(answers);
    expect(q.starts()).toBe(1);
  });
});
