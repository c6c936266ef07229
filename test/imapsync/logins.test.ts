/**
 * imapsync logins and failures: a wrong remote password or an unknown local user fail fast with
 * their typed outcome; the remote side as an admin (`user*admin`, SASL PLAIN authzid); cancel
 * and progress (dropped connections: reconnect.test.ts; ad-hoc tasks: adhoc.test.ts).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { imapsyncJob } from '../../src/jobs/imapsync/index.js';
import { registry } from '../../src/jobs/registry.js';
import { stateKey } from '../../src/core/redis.js';
import type { JobContext, StatusRow } from '../../src/jobs/types.js';
import { ProcessLmtpSlots } from '../../src/mail/lmtp-pool.js';
import { RunRecordStore } from '../../src/worker/run-record.js';
import { runCli, silentLog } from '../helpers/runtime.js';
import { contents, makeMessage, seed, snapshot } from './corpus.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import {
  authChecks,
  runImapsync,
  settledLog,
  startSyncWorld,
  type SyncWorld,
  writeSyncConfig,
} from './world.js';

let w: SyncWorld;
beforeAll(async () => {
  w = await startSyncWorld();
});
afterAll(async () => {
  await w?.stop();
});

/** The typed outcome of the task's last failure, as the run record keeps it. */
async function lastFailure(configFile: string, target: string): Promise<string | undefined> {
  const config = loadConfig(configFile, {});
  const redis = new Redis(w.redis.url);
  try {
    const key = (...parts: string[]) => stateKey(config.redis.prefix, ...parts);
    return (await new RunRecordStore(redis, key).read('imapsync', target))?.lastErrorCode;
  } finally {
    await redis.quit();
  }
}

describe('imapsync logins', () => {
  it('a wrong remote password fails at once with auth_failed_source', async () => {
    const remote = await w.remote.addUser('r-wrongpw');
    const local = await w.local.addUser('l-wrongpw');
    const config = writeSyncConfig(w, [
      { id: 'wrongpw', localUser: local.user, remoteUser: remote.user, password: 'not-the-password' },
    ]);
    const logFrom = w.remote.log().length;
    const r = await runImapsync(config, { task: 'wrongpw' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/job failed: auth_failed_source: IMAP login as r-wrongpw at 127\.0\.0\.1 refused/);
    expect(r.err).not.toContain('not-the-password');
    // At once: one password check, not retried as if the connection had failed.
    expect(await authChecks(w.remote, remote.user, logFrom)).toEqual(['Password mismatch']);
    expect(await lastFailure(config, 'wrongpw')).toBe('auth_failed_source');
    const status = await runCli(['status', '--json', '--config', config], registry);
    expect(status.code).toBe(2); // Nagios: critical
    const rows = (
      JSON.parse(status.out) as { queues: { queue: string; targets: StatusRow[] }[] }
    ).queues.find((q) => q.queue === 'imapsync')!.targets;
    expect(rows).toEqual([
      expect.objectContaining({
        target: 'wrongpw',
        severity: 'critical', // a refused login: no retry can fix it
        summary: expect.stringMatching(
          /: failing \(1x\) since .*: auth_failed_source: IMAP login as r-wrongpw/,
        ),
      }),
    ]);
  });

  it('an unknown local user fails with auth_failed_destination', async () => {
    const remote = await w.remote.addUser('r-nolocal');
    const config = writeSyncConfig(w, [
      { id: 'nolocal', localUser: 'nobody-here', remoteUser: remote.user, password: remote.password },
    ]);
    const r = await runImapsync(config, { task: 'nolocal' });
    expect(r.code).toBe(1);
    expect(r.err).toContain('auth_failed_destination');
    expect(await lastFailure(config, 'nolocal')).toBe('auth_failed_destination');
  });

  it.each(['separator', 'authzid'] as const)('logs in on the remote side as an admin (%s)', async (admin) => {
    const remote = await w.remote.addUser(`r-admin-${admin}`);
    const local = await w.local.addUser(`l-admin-${admin}`);
    await seed(w.remote, remote.user, [
      {
        folder: 'INBOX',
        raw: makeMessage(`admin-${admin}`),
        flags: ['\\Seen'],
        internalDate: new Date('2010-10-10'),
      },
    ]);
    const config = writeSyncConfig(w, [
      { id: `admin-${admin}`, localUser: local.user, remoteUser: remote.user, admin },
    ]);
    const log = w.remote.log().length;
    const r = await runImapsync(config, { task: `admin-${admin}` });
    expect(r.result).toMatchObject({ outcome: 'ok', copied: 1 });
    expect(w.remote.log().slice(log)).toContain(`Master user logging in as ${remote.user}`);
  });
});

describe('imapsync cancel and progress', () => {
  it('stops when its AbortSignal fires; the next run continues: nothing missing, nothing twice', async () => {
    const remote = await w.remote.addUser('r-cancel');
    const local = await w.local.addUser('l-cancel');
    const body = 'Some words to carry.\r\n'.repeat(100);
    const total = 200;
    await seed(
      w.remote,
      remote.user,
      Array.from({ length: total }, (_, i) => ({
        folder: i % 2 ? 'INBOX' : 'Archiv',
        raw: makeMessage(`cancel-${i}`, { body }),
        flags: [],
        internalDate: new Date(Date.UTC(2019, 0, 1) + i * 60_000),
      })),
    );
    // The first copies (a batch of 100 messages, ~230 kB; one folder at a time) show after some
    // 4 s; the other folder would need as long again, so the signal fires in the middle of the run.
    const proxy = await TcpProxy.start(w.remote.imapsPort!, { downBytesPerSecond: 64 * 1024 });
    const file = writeSyncConfig(
      w,
      [{ id: 'cancel', localUser: local.user, remoteUser: remote.user, password: remote.password }],
      ['imapsync: { parallelFolders: 1 }'],
      undefined,
      { remote: proxy.port },
    );
    const config = loadConfig(file, {});
    const redis = new Redis(w.redis.url);
    const abort = new AbortController();
    const progress: Record<string, unknown>[] = [];
    // The sync's own progress says when copies have begun. Reading the destination with doveadm
    // meanwhile would race the sync's first LIST: Dovecot 2.3 can then deadlock on its index
    // locks and its imap process panics (fixtures/dovecot.ts, `doveadm`), dropping the session.
    let copying!: () => void;
    const copiesBegun = new Promise<void>((resolve) => (copying = resolve));
    const ctx: JobContext = {
      jobId: 'cancel-test',
      attempt: 1,
      log: silentLog,
      signal: abort.signal,
      config,
      redis,
      key: (...parts) => stateKey(config.redis.prefix, ...parts),
      progress: async (v) => {
        progress.push(v);
        if (Number(v.copied) > 0) copying();
      },
      trail: async () => undefined,
      lmtpSlots: new ProcessLmtpSlots(),
    };
    const count = async () => {
      const r = await w.local.doveadm(['mailbox', 'status', '-u', local.user, 'messages', '*']);
      return [...r.stdout.matchAll(/messages=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    };
    const logFrom = w.local.log().length;
    try {
      const running = imapsyncJob.process({ task: 'cancel' }, ctx);
      // The first copies, or the sync's own error if it ends first.
      const ended = running.then(() => {
        throw new Error('the sync finished before the test could cancel it');
      });
      ended.catch(() => undefined); // rejects with the cancel below too, once the race is over
      await Promise.race([copiesBegun, ended]);
      abort.abort('cancelled by the test');
      await expect(running).rejects.toThrow(/stopped \(cancelled by the test\)/);
      // An APPEND already sent when the signal fired may still be stored, until the destination's
      // sessions have ended: then nothing more.
      await settledLog(w.local, local.user, logFrom);
      const atStop = await count();
      expect(atStop).toBeGreaterThan(0);
      expect(atStop).toBeLessThan(total);
      proxy.throttle({});

      const rest = await runImapsync(file, { task: 'cancel' });
      expect(rest.result).toMatchObject({ outcome: 'ok' });
      expect(rest.result!.copied).toBe(total - atStop);
      const src = await snapshot(w.remote, remote.user);
      const dst = await snapshot(w.local, local.user);
      expect(contents(dst.get('INBOX'))).toEqual(contents(src.get('INBOX')));
      expect(contents(dst.get('Archive'))).toEqual(contents(src.get('Archiv')));
      expect(progress.length).toBeGreaterThan(0);
      expect(progress.at(-1)).toEqual({
        folder: expect.any(String),
        foldersDone: expect.any(Number),
        foldersTotal: expect.any(Number),
        copied: expect.any(Number),
        skipped: expect.any(Number),
        total,
        bytes: expect.any(Number),
        bytesTotal: expect.any(Number),
        bytesTotalFinal: expect.any(Boolean),
        rate: expect.any(Number),
        etaSeconds: expect.toSatisfy((v: unknown) => v === null || typeof v === 'number'),
      });
    } finally {
      await redis.quit();
      await proxy.close();
    }
  }, 150_000);
});
