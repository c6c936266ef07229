/** The getmail ledger against a real Redis: in-flight batches, fetched records, failures and holds. */
import { describe, expect, it } from 'vitest';
import { FetchLedger, INFLIGHT_BATCH } from '../../src/jobs/getmail/ledger.js';
import { SeenUidStore } from '../../src/jobs/getmail/state.js';
import { stateKey } from '../../src/core/redis.js';
import { usePrivateRedis } from '../helpers/private-redis.js';
import { freshPrefix } from '../helpers/runtime.js';

const r = usePrivateRedis();

function books(holdAfter = 3) {
  const prefix = freshPrefix();
  const key = (...parts: string[]) => stateKey(prefix, ...parts);
  const store = new SeenUidStore(r.redis, key, 'acct', 3600);
  const open = async () => {
    const ledger = new FetchLedger(store, holdAfter);
    await ledger.load();
    return ledger;
  };
  const inflight = async () => (await r.redis.hkeys(key('getmail', 'acct', 'inflight'))).sort();
  return { store, open, inflight };
}

const keysOf = (n: number) => Array.from({ length: n }, (_, i) => `INBOX:1/${String(i).padStart(2, '0')}`);

describe('FetchLedger', () => {
  it(`marks ${INFLIGHT_BATCH} upcoming keys in flight with one write, never a settled key twice`, async () => {
    const b = books();
    const ledger = await b.open();
    const keys = keysOf(INFLIGHT_BATCH + 4);
    ledger.startFolder(keys);
    const writes: string[][] = [];
    const mark = b.store.markInflight.bind(b.store);
    b.store.markInflight = (k: string[]) => (writes.push(k), mark(k));
    await ledger.handOver(keys[0]!);
    expect(writes).toEqual([keys.slice(0, INFLIGHT_BATCH)]);
    expect(await b.inflight()).toEqual(keys.slice(0, INFLIGHT_BATCH));
    await ledger.done(keys[0]!, 'id-0');
    await ledger.handOver(keys[1]!); // already marked by the first batch: no write
    expect(writes).toHaveLength(1);
    await ledger.done(keys[1]!, undefined);
    await ledger.handOver(keys[INFLIGHT_BATCH]!);
    expect(writes[1]).toEqual(keys.slice(INFLIGHT_BATCH));
    // The run stops: what was marked ahead and never handed over is cleared; the handed-over one stays.
    await ledger.endFolder();
    expect(await b.inflight()).toEqual([keys[INFLIGHT_BATCH]]);
    const again = await b.open();
    expect([...again.memory().seen.keys()]).toEqual([keys[0], keys[1]]);
    expect([...again.memory().inflight]).toEqual([keys[INFLIGHT_BATCH]]);
    expect(await again.hasIdentity('id-0')).toBe(true);
  });

  it('holds a message that failed in 3 runs in a row; a delivery clears its failures', async () => {
    const b = books();
    for (let run = 1; run <= 3; run++) {
      const ledger = await b.open();
      const rec = await ledger.failed('INBOX:1/a', { reason: `refused ${run}`, messageId: '<a@x>' });
      expect(rec.failures).toBe(run);
      expect(rec.heldAt !== undefined).toBe(run === 3);
      // b fails on the first run, is delivered on the second and fails afresh on the third
      if (run === 2) await ledger.done('INBOX:1/b', undefined);
      else expect((await ledger.failed('INBOX:1/b', { reason: 'refused' })).failures).toBe(1);
    }
    const ledger = await b.open();
    expect(ledger.held()).toEqual([
      { key: 'INBOX:1/a', messageId: '<a@x>', reason: 'refused 3', failures: 3, since: expect.any(Number) },
    ]);
    expect([...ledger.memory().held]).toEqual(['INBOX:1/a']);
    expect(await b.store.held()).toEqual(ledger.held());
  });

  it('retry forgets the failures; deliver anyway lets the next run through once', async () => {
    const b = books(1);
    const ledger = await b.open();
    await ledger.failed('INBOX:1/a', { reason: 'x' });
    await ledger.failed('INBOX:1/b', { reason: 'y' });
    expect(await b.store.release('INBOX:1/none', 'retry')).toBe(false);
    expect(await b.store.release('INBOX:1/a', 'retry')).toBe(true);
    expect(await b.store.release('INBOX:1/b', 'deliver-anyway')).toBe(true);
    const next = await b.open();
    expect(next.memory().held.size).toBe(0);
    expect(next.deliverAnyway('INBOX:1/a')).toBe(false);
    expect(next.deliverAnyway('INBOX:1/b')).toBe(true);
    expect(next.held().map((h) => h.key)).toEqual(['INBOX:1/b']); // still listed until delivered
    // Failing again even so: held again, no longer let through.
    await next.failed('INBOX:1/b', { reason: 'z' });
    const last = await b.open();
    expect(last.deliverAnyway('INBOX:1/b')).toBe(false);
    expect([...last.memory().held]).toEqual(['INBOX:1/b']);
  });

  it('forgets seen keys and failures of messages gone from the server', async () => {
    const b = books(1);
    const ledger = await b.open();
    await ledger.done('INBOX:1/a', undefined);
    await ledger.failed('INBOX:1/b', { reason: 'x' });
    await ledger.forget({ seen: ['INBOX:1/a'], failures: ['INBOX:1/b'] });
    const next = await b.open();
    expect(next.memory().seen.size).toBe(0);
    expect(next.held()).toEqual([]);
  });
});
