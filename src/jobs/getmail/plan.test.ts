import { describe, expect, it } from 'vitest';
import { planFolder, suspects, toDelete, toForget, uidsUntrusted, type Listed, type Memory } from './plan.js';

const listed = (...sizes: number[]): Listed[] =>
  sizes.map((size, i) => ({ key: `INBOX:1/${i + 1}`, msg: { id: String(i + 1), ref: i + 1, size } }));
const memory = (m: Partial<Memory> = {}): Memory => ({
  seen: new Map(),
  inflight: new Set(),
  held: new Set(),
  ...m,
});
const limits = { messages: 10, bytes: 1000, messageBytes: 500 };
const keys = (ls: Listed[]) => ls.map((l) => l.key);

describe('planFolder', () => {
  it('fetches what is new, in order, and skips what was seen', () => {
    const all = listed(10, 20, 30);
    const plan = planFolder(all, memory({ seen: new Map([['INBOX:1/2', 1]]) }), limits);
    expect(keys(plan.fetch)).toEqual(['INBOX:1/1', 'INBOX:1/3']);
    expect(plan).toMatchObject({ tooBig: [], deferred: 0, held: [] });
  });

  it('leaves messages over the per-message limit on the server, whatever the run limits', () => {
    const plan = planFolder(listed(600, 10), memory(), { ...limits, messages: 1 });
    expect(keys(plan.tooBig)).toEqual(['INBOX:1/1']);
    expect(keys(plan.fetch)).toEqual(['INBOX:1/2']);
  });

  it('defers past the message and byte limits, but always fetches a first message', () => {
    expect(planFolder(listed(1, 1, 1), memory(), { ...limits, messages: 2 }).deferred).toBe(1);
    const bytes = planFolder(listed(400, 400, 400, 100), memory(), { ...limits, bytes: 300 });
    expect(keys(bytes.fetch)).toEqual(['INBOX:1/1']);
    expect(bytes.deferred).toBe(3);
  });

  it('does not try held messages, and they take no place in the limits', () => {
    const plan = planFolder(listed(10, 10), memory({ held: new Set(['INBOX:1/1']) }), {
      ...limits,
      messages: 1,
    });
    expect(keys(plan.held)).toEqual(['INBOX:1/1']);
    expect(keys(plan.fetch)).toEqual(['INBOX:1/2']);
    expect(plan.deferred).toBe(0);
  });

  it('skips the suspects found already delivered', () => {
    const plan = planFolder(listed(10, 10), memory(), limits, new Set(['INBOX:1/1']));
    expect(keys(plan.fetch)).toEqual(['INBOX:1/2']);
  });
});

describe('suspects', () => {
  it('are the listed messages in flight, not seen, within the size limit', () => {
    const all = listed(10, 10, 600, 10);
    const m = memory({
      inflight: new Set(['INBOX:1/1', 'INBOX:1/2', 'INBOX:1/3', 'INBOX:1/9']),
      seen: new Map([['INBOX:1/2', 5]]),
    });
    expect(keys(suspects(all, m, limits))).toEqual(['INBOX:1/1']);
  });
});

describe('uidsUntrusted', () => {
  const base = { validity: '7', known: [] as string[], listed: ['a'], seen: new Map<string, number>() };
  it('when UIDVALIDITY changed, not on a first run', () => {
    expect(uidsUntrusted({ ...base, previousValidity: '6' })).toBe(true);
    expect(uidsUntrusted({ ...base, previousValidity: null })).toBe(false);
    expect(uidsUntrusted({ ...base, previousValidity: '7' })).toBe(false);
  });
  it('when known messages exist and no listed key is one of them (POP3 renumbered)', () => {
    const seen = new Map([['x', 1]]);
    const same = { ...base, previousValidity: '7', known: ['x'], seen };
    expect(uidsUntrusted({ ...same, listed: ['a', 'b'] })).toBe(true);
    expect(uidsUntrusted({ ...same, listed: ['a', 'x'] })).toBe(false);
    expect(uidsUntrusted({ ...same, listed: [] })).toBe(false);
  });
});

describe('toDelete', () => {
  const day = 86_400_000;
  const all = listed(1, 1, 1);
  const m = memory({
    seen: new Map([
      ['INBOX:1/1', 0],
      ['INBOX:1/2', 2 * day],
    ]),
  });
  it('deletes only settled messages, as the policy says', () => {
    expect(toDelete(all, m, 'never', 3 * day)).toEqual([]);
    expect(keys(toDelete(all, m, 'immediately', 3 * day))).toEqual(['INBOX:1/1', 'INBOX:1/2']);
    expect(keys(toDelete(all, m, { afterDays: 2 }, 3 * day))).toEqual(['INBOX:1/1']);
  });
  it('never deletes a held message, even one remembered as seen', () => {
    const held = { ...m, held: new Set(['INBOX:1/1']) };
    expect(keys(toDelete(all, held, 'immediately', 3 * day))).toEqual(['INBOX:1/2']);
  });
});

describe('toForget', () => {
  it('forgets the folder keys no longer listed, and no other folder', () => {
    const remembered = ['INBOX:1/1', 'INBOX:1/7', 'Other:1/7'];
    expect(toForget(remembered, 'INBOX:', listed(1))).toEqual(['INBOX:1/7']);
  });
});
