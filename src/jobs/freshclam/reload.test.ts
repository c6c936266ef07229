import { describe, expect, it } from 'vitest';
import type { ClamdVersion } from '../../mail/clamd.js';
import { syncClamd, type ClamdControl } from './reload.js';

/** A clamd whose loaded daily version moves to `next` after `lag` VERSION calls following a RELOAD. */
function fakeClamd(loaded: number, opts: { next?: number; lag?: number; reloadsItself?: boolean } = {}) {
  let version = loaded;
  let sinceReload = -1;
  const calls: string[] = [];
  const clamd: ClamdControl = {
    async version(): Promise<ClamdVersion> {
      calls.push('VERSION');
      if (opts.reloadsItself && sinceReload < 0) sinceReload = 0; // NotifyClamd already sent RELOAD
      if (sinceReload >= 0 && ++sinceReload > (opts.lag ?? 0) && opts.next) version = opts.next;
      return { engine: '1.4.6', dbVersion: version, raw: `ClamAV 1.4.6/${version}/x` };
    },
    async reload() {
      calls.push('RELOAD');
      sinceReload = 0;
    },
  };
  return { clamd, calls };
}

const base = { timeoutMs: 2000, pollMs: 10 };

describe('syncClamd', () => {
  it('does nothing when nothing changed and clamd runs what is on disk', async () => {
    const { clamd, calls } = fakeClamd(27000);
    const r = await syncClamd(clamd, { ...base, onDisk: 27000, updated: [], notified: undefined });
    expect(r).toMatchObject({ reload: 'not-needed', reloadSent: false });
    expect(calls).toEqual(['VERSION']);
  });

  it('after freshclam notified clamd, waits until VERSION shows the new daily version', async () => {
    const { clamd, calls } = fakeClamd(27000, { next: 27001, lag: 3, reloadsItself: true });
    const r = await syncClamd(clamd, { ...base, onDisk: 27001, updated: ['daily.cud'], notified: true });
    expect(r).toMatchObject({ reload: 'confirmed', reloadSent: false, version: { dbVersion: 27001 } });
    expect(calls).not.toContain('RELOAD');
    expect(calls.filter((c) => c === 'VERSION').length).toBeGreaterThan(2);
  });

  it('sends RELOAD itself when freshclam did not notify clamd', async () => {
    const { clamd, calls } = fakeClamd(27000, { next: 27001, lag: 1 });
    const r = await syncClamd(clamd, { ...base, onDisk: 27001, updated: ['daily.cld'], notified: false });
    expect(r).toMatchObject({ reload: 'confirmed', reloadSent: true });
    expect(calls[1]).toBe('RELOAD');
  });

  it('reloads a clamd still behind the disk even when this run changed nothing', async () => {
    const { clamd } = fakeClamd(27000, { next: 27001 });
    const r = await syncClamd(clamd, { ...base, onDisk: 27001, updated: [], notified: undefined });
    expect(r).toMatchObject({ reload: 'confirmed', reloadSent: true });
  });

  it('fails (retryably) when VERSION does not show the new database in time', async () => {
    const { clamd } = fakeClamd(27000); // never moves
    const started = Date.now();
    await expect(
      syncClamd(clamd, { ...base, timeoutMs: 200, onDisk: 27001, updated: ['daily.cud'], notified: true }),
    ).rejects.toMatchObject({
      name: 'ProtocolError',
      code: 'ERELOAD',
      message: expect.stringMatching(/27000.*27001/),
    });
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('says "unverifiable" when only databases VERSION does not show changed', async () => {
    const { clamd, calls } = fakeClamd(27000);
    const r = await syncClamd(clamd, { ...base, onDisk: 27000, updated: ['extra.hdb'], notified: undefined });
    expect(r).toMatchObject({ reload: 'unverifiable', reloadSent: true });
    expect(calls).toEqual(['VERSION', 'RELOAD']);
  });
});
