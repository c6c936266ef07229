import { describe, expect, it } from 'vitest';
import { ConnectionSlots } from './lmtp-pool.js';

describe('ConnectionSlots', () => {
  it('never hands out more than its limit; a waiter gets the next slot given back', async () => {
    const slots = new ConnectionSlots(2);
    await slots.take();
    expect(slots.tryTake()).toBe(true);
    expect(slots.tryTake()).toBe(false);
    let third = false;
    const waiting = slots.take().then(() => (third = true));
    await Promise.resolve();
    expect(third).toBe(false);
    slots.give();
    await waiting;
    expect(third).toBe(true);
    expect(slots.tryTake()).toBe(false);
  });
});
