import { describe, expect, it } from 'vitest';
import { LoginRateLimiter, type CounterStore } from './rate-limit.js';

/** An in-memory store with a settable clock, standing in for Redis. */
function fakeStore() {
  let now = 0;
  const keys = new Map<string, { count: number; expiresAt: number }>();
  const live = (k: string) => {
    const e = keys.get(k);
    if (e && e.expiresAt <= now) keys.delete(k);
    return keys.get(k);
  };
  const store = {
    async get(k: string) {
      const e = live(k);
      return e ? String(e.count) : null;
    },
    async ttl(k: string) {
      const e = live(k);
      return e ? Math.ceil((e.expiresAt - now) / 1000) : -2;
    },
    async del(...ks: string[]) {
      ks.forEach((k) => keys.delete(k));
      return ks.length;
    },
    async incrWithin(k: string, seconds: number) {
      const e = live(k) ?? { count: 0, expiresAt: now + seconds * 1000 };
      e.count++;
      keys.set(k, e);
      return e.count;
    },
  } as unknown as CounterStore;
  return { store, advance: (ms: number) => (now += ms), keys };
}

const key = (...p: string[]) => `{t}:state:${p.join(':')}`;
const limits = { perAddress: 5, perUser: 3, windowMinutes: 15 };

describe('LoginRateLimiter', () => {
  it('refuses a user name after perUser failures, with the seconds left in the window', async () => {
    const { store, advance } = fakeStore();
    const rl = new LoginRateLimiter(store, key, () => limits);
    for (let i = 0; i < 3; i++) {
      expect(await rl.retryAfter('10.0.0.1', 'admin')).toBe(0);
      await rl.recordFailure('10.0.0.1', 'admin');
    }
    expect(await rl.retryAfter('10.0.0.2', 'admin')).toBe(900); // another address, same name
    expect(await rl.retryAfter('10.0.0.1', 'other')).toBe(0); // same address, under perAddress
    advance(600_000);
    expect(await rl.retryAfter('10.0.0.1', 'Admin')).toBe(300); // names compare case-insensitively
    advance(300_000);
    expect(await rl.retryAfter('10.0.0.1', 'admin')).toBe(0); // the window ended
  });

  it('refuses an address after perAddress failures whatever the name', async () => {
    const { store } = fakeStore();
    const rl = new LoginRateLimiter(store, key, () => limits);
    for (let i = 0; i < 5; i++) await rl.recordFailure('10.0.0.9', `user${i}`);
    expect(await rl.retryAfter('10.0.0.9', 'fresh')).toBeGreaterThan(0);
    expect(await rl.retryAfter('10.0.0.8', 'fresh')).toBe(0);
  });

  it("a successful login clears that name's failures, not the address's", async () => {
    const { store } = fakeStore();
    const rl = new LoginRateLimiter(store, key, () => ({ ...limits, perAddress: 3 }));
    for (let i = 0; i < 3; i++) await rl.recordFailure('10.0.0.1', 'admin');
    await rl.recordSuccess('admin');
    expect(await rl.retryAfter('10.0.0.2', 'admin')).toBe(0);
    expect(await rl.retryAfter('10.0.0.1', 'admin')).toBeGreaterThan(0);
  });

  it('keeps no user name or address in plain text in its keys', async () => {
    const { store, keys } = fakeStore();
    const rl = new LoginRateLimiter(store, key, () => limits);
    await rl.recordFailure('192.0.2.7', 'alice');
    const all = [...keys.keys()].join(' ');
    expect(all).not.toMatch(/alice|192\.0\.2\.7/);
    expect(all).toMatch(/^\{t\}:state:dashboard:login-failures:/);
  });
});
