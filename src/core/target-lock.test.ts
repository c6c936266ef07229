import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { describeHolder, holderIsDead, lockValue, parseLockValue, type Here } from './target-lock.js';

const NOW = Date.UTC(2026, 11, 5, 5, 30, 0);

describe('parseLockValue', () => {
  it('reads the holder this version writes, with the expiry from the remaining ttl', () => {
    const raw = lockValue('run-1', { host: 'mx1', pidns: 'pid:[4026531836]', pid: 4242 });
    expect(parseLockValue(raw, 20_000, NOW)).toEqual({
      jobId: 'run-1',
      host: 'mx1',
      pidns: 'pid:[4026531836]',
      pid: 4242,
      expiresAt: NOW + 20_000,
    });
  });

  it('understands the bare job id an older version wrote (during an upgrade)', () => {
    expect(parseLockValue('5f0c2a9e-1b7d-4c33-9a55-0d3f1e2b6a71', 9_000, NOW)).toEqual({
      jobId: '5f0c2a9e-1b7d-4c33-9a55-0d3f1e2b6a71',
      expiresAt: NOW + 9_000,
    });
    expect(parseLockValue('repeat:abc:1733376000000', 9_000, NOW).jobId).toBe('repeat:abc:1733376000000');
  });

  it('takes a value that only looks like JSON as a job id, and drops fields of the wrong type', () => {
    expect(parseLockValue('{not json', 1_000, NOW)).toEqual({ jobId: '{not json', expiresAt: NOW + 1_000 });
    expect(parseLockValue('{"id":"x"}', 1_000, NOW).jobId).toBe('{"id":"x"}');
    expect(parseLockValue('{"jobId":"j","host":7,"pid":"12"}', 1_000, NOW)).toEqual({
      jobId: 'j',
      expiresAt: NOW + 1_000,
    });
  });

  it('leaves the expiry out when the key has none (PTTL -1)', () => {
    expect(parseLockValue('j', -1, NOW)).toEqual({ jobId: 'j' });
  });
});

describe('holderIsDead', () => {
  const ns = 'pid:[4026531836]';
  const here = (alive: number[]): Here => ({
    host: 'mx1',
    pidns: ns,
    pid: 100,
    exists: (pid) => alive.includes(pid),
  });

  it('is true only for a holder of this host whose process is gone', () => {
    expect(holderIsDead({ jobId: 'a', host: 'mx1', pidns: ns, pid: 555 }, here([]))).toBe(true);
    expect(holderIsDead({ jobId: 'a', host: 'mx1', pidns: ns, pid: 555 }, here([555]))).toBe(false);
  });

  it('never judges a holder of another host or PID namespace, of an older version, or this process', () => {
    expect(holderIsDead({ jobId: 'a', host: 'mx2', pidns: ns, pid: 555 }, here([]))).toBe(false);
    // a container sharing the host's name (docker --network host) numbers its processes apart
    expect(holderIsDead({ jobId: 'a', host: 'mx1', pidns: 'pid:[4026532200]', pid: 555 }, here([]))).toBe(
      false,
    );
    expect(holderIsDead({ jobId: 'a' }, here([]))).toBe(false);
    expect(holderIsDead({ jobId: 'a', host: 'mx1' }, here([]))).toBe(false);
    expect(holderIsDead({ jobId: 'a', host: 'mx1', pidns: ns, pid: 100 }, here([]))).toBe(false);
  });

  it('asks the system by default: a process that exited is dead, a live one is not', () => {
    const holder = (pid: number) => parseLockValue(lockValue('a', { pid }), 1_000);
    expect(holderIsDead(holder(spawnSync(process.execPath, ['-e', '']).pid))).toBe(true);
    expect(holderIsDead(holder(process.ppid))).toBe(false);
  });
});

describe('describeHolder', () => {
  it('names the job, host, pid and expiry in one line', () => {
    expect(describeHolder({ jobId: 'run-1', host: 'mx1', pid: 4242, expiresAt: NOW + 28_500 }, NOW)).toBe(
      'job run-1 on mx1 (pid 4242), lock expires at 2026-12-05T05:30:28.500Z (in 29 s)',
    );
    expect(describeHolder({ jobId: 'old-id' }, NOW)).toBe('job old-id');
  });
});
