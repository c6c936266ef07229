import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Secret } from './secret.js';

describe('Secret', () => {
  const s = new Secret('hunter2', 'file:/etc/x');
  it('reveals only on request', () => {
    expect(s.reveal()).toBe('hunter2');
  });
  it('never prints its value', () => {
    expect(JSON.stringify({ s })).not.toContain('hunter2');
    expect(inspect({ s })).not.toContain('hunter2');
    expect(`${s}`).toBe('[secret]');
    expect(JSON.stringify({ s })).toContain('file:/etc/x');
  });
});
