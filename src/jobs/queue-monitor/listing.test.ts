import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PostfixTarget } from '../../mail/postfix.js';
import { listQueue, type QueueListQuery } from './listing.js';

const NOW_S = Math.floor(Date.now() / 1000);

/** A fake `postqueue` printing `records` as `postqueue -j` would (one JSON object a line). */
function fakeQueue(records: object[]): PostfixTarget {
  const dir = mkdtempSync(join(tmpdir(), 'mailjobs-fakequeue-'));
  writeFileSync(join(dir, 'queue.jsonl'), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  writeFileSync(join(dir, 'postqueue'), `#!/bin/sh\ncat "$(dirname "$0")/queue.jsonl"\n`);
  chmodSync(join(dir, 'postqueue'), 0o755);
  return { configDir: '/etc/postfix', commandDirectory: dir };
}

// Seven messages, listed by Postfix in hash order (not by arrival); ages 70 min .. 10 min.
const ids = ['A00007', 'A00003', 'A00001', 'A00006', 'A00002', 'A00005', 'A00004'];
const records = ids.map((id) => {
  const n = Number(id.slice(-1));
  return {
    queue_name: n === 5 ? 'hold' : 'deferred',
    queue_id: id,
    arrival_time: NOW_S - (80 - n * 10) * 60,
    message_size: 1000 + n,
    sender: n === 2 ? '' : `sender${n}@Example.ORG`,
    recipients: [
      { address: `rcpt${n}@example.net`, delay_reason: 'Connection refused' },
      { address: 'all@example.net' },
    ],
  };
});
const target = fakeQueue(records);
const list = (q: QueueListQuery) => listQueue(target, q);

describe('listQueue', () => {
  it('orders by arrival, oldest first, with what the Queue page shows', async () => {
    const page = await list({});
    expect(page.messages.map((m) => m.queueId)).toEqual([
      'A00001',
      'A00002',
      'A00003',
      'A00004',
      'A00005',
      'A00006',
      'A00007',
    ]);
    expect(page).toMatchObject({ matched: 7, scanned: 7 });
    expect(page.nextCursor).toBeUndefined();
    expect(page.messages[0]).toMatchObject({
      size: 1001,
      sender: 'sender1@Example.ORG',
      arrivalTime: (NOW_S - 70 * 60) * 1000,
      recipients: [
        { address: 'rcpt1@example.net', delayReason: 'Connection refused' },
        { address: 'all@example.net' },
      ],
    });
  });

  it('pages with a cursor: every message once, in order, in either direction', async () => {
    for (const order of ['oldest', 'newest'] as const) {
      const seen: string[] = [];
      let after: string | undefined;
      let pages = 0;
      do {
        const page = await list({ order, limit: 3, ...(after ? { after } : {}) });
        expect(page.messages.length).toBeLessThanOrEqual(3);
        expect(page.matched).toBe(7);
        seen.push(...page.messages.map((m) => m.queueId));
        after = page.nextCursor;
        pages++;
      } while (after);
      expect(pages).toBe(3);
      const sorted = [...ids].sort();
      expect(seen).toEqual(order === 'oldest' ? sorted : sorted.reverse());
    }
  });

  it('filters by queue, sender (case-insensitive, <> for bounces), recipient and age', async () => {
    const idsOf = async (q: QueueListQuery) => (await list(q)).messages.map((m) => m.queueId);
    expect(await idsOf({ queue: ['hold'] })).toEqual(['A00005']);
    expect(await idsOf({ sender: 'SENDER3@example' })).toEqual(['A00003']);
    expect(await idsOf({ sender: '<>' })).toEqual(['A00002']);
    expect(await idsOf({ recipient: 'rcpt6@' })).toEqual(['A00006']);
    expect(await idsOf({ recipient: 'all@example.net' })).toHaveLength(7);
    // ages: A00001 70 min ... A00007 10 min
    expect(await idsOf({ minAgeSeconds: 45 * 60 })).toEqual(['A00001', 'A00002', 'A00003']);
    expect(await idsOf({ maxAgeSeconds: 25 * 60 })).toEqual(['A00006', 'A00007']);
    const page = await list({ queue: ['deferred'], limit: 2 });
    expect(page).toMatchObject({ matched: 6, scanned: 7 });
  });

  it('refuses a bad query, naming the field', async () => {
    await expect(list({ limit: 0 })).rejects.toThrow(/limit: /);
    await expect(list({ queue: ['bounced' as 'hold'] })).rejects.toThrow(/queue\[0\]/);
    await expect(list({ after: '-f' })).rejects.toThrow(/after: not a cursor/);
  });
});
