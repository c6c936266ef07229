/**
 * imapsync options against real servers: deleteOnDestination, deleteOnSource (verified, and
 * only older than N days), dry run, justFolders, testLogin, and a lost state (it is a cache).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { startDovecot } from '../fixtures/dovecot.js';
import { contents, corpus, makeMessage, masterSession, seed, snapshot } from './corpus.js';
import { runImapsync, startSyncWorld, type SyncWorld, writeSyncConfig } from './world.js';

let w: SyncWorld;
beforeAll(async () => {
  w = await startSyncWorld();
});
afterAll(async () => {
  await w?.stop();
});

async function users(name: string) {
  const [remote, local] = await Promise.all([w.remote.addUser(`r-${name}`), w.local.addUser(`l-${name}`)]);
  return { remote, local };
}

async function appendTo(fx: typeof w.remote, user: string, folder: string, raw: Buffer, date?: Date) {
  const client = await masterSession(fx, user);
  try {
    await client.append(folder, raw, [], date);
  } finally {
    await client.logout();
  }
}

async function expungeFirst(fx: typeof w.remote, user: string, folder: string) {
  const client = await masterSession(fx, user);
  try {
    await client.mailboxOpen(folder);
    await client.messageDelete('1', { uid: false });
  } finally {
    await client.logout();
  }
}

describe('imapsync options', () => {
  it('deleteOnDestination removes local messages that are not on the source, and only those', async () => {
    const { remote, local } = await users('deldst');
    const shared = makeMessage('both-sides');
    await seed(w.remote, remote.user, [
      { folder: 'INBOX', raw: shared, flags: [], internalDate: new Date('2015-01-01T00:00:00Z') },
      { folder: 'INBOX', raw: makeMessage('r1'), flags: [], internalDate: new Date('2015-01-02T00:00:00Z') },
      { folder: 'INBOX', raw: makeMessage('r2'), flags: [], internalDate: new Date('2015-01-03T00:00:00Z') },
    ]);
    // the local mailbox already holds one of them (same bytes) and one message of its own
    await appendTo(w.local, local.user, 'INBOX', shared, new Date('2015-01-01T00:00:00Z'));
    await appendTo(w.local, local.user, 'INBOX', makeMessage('local-only'));
    const spec = { id: 'deldst', localUser: local.user, remoteUser: remote.user, password: remote.password };
    const keep = writeSyncConfig(w, [spec]);
    const first = await runImapsync(keep, { task: 'deldst' });
    // the message already there is recognised by its identity: copied 2, not 3
    expect(first.result).toMatchObject({ copied: 2, alreadyThere: 1, deletedOnDestination: 0 });
    expect((await snapshot(w.local, local.user)).get('INBOX')).toHaveLength(4);

    await expungeFirst(w.remote, remote.user, 'INBOX'); // the one both sides had from the start
    const config = writeSyncConfig(w, [
      { ...spec, options: '{ deleteOnDestination: true, deleteLimit: { percent: 100 } }' },
    ]);
    const second = await runImapsync(config, { task: 'deldst' });
    expect(second.result).toMatchObject({ outcome: 'ok', copied: 0, deletedOnDestination: 2 });
    const src = await snapshot(w.remote, remote.user);
    const dst = await snapshot(w.local, local.user);
    expect(contents(dst.get('INBOX')).map((c) => c.split(' ')[0])).toEqual(
      contents(src.get('INBOX')).map((c) => c.split(' ')[0]),
    );
  });

  it('deleteOnSource deletes only what is verified in the destination; olderThanDays only old ones', async () => {
    const { remote, local } = await users('delsrc');
    const old = new Date(Date.now() - 40 * 86_400_000);
    await seed(w.remote, remote.user, [
      { folder: 'INBOX', raw: makeMessage('old-1'), flags: ['\\Seen'], internalDate: old },
      { folder: 'INBOX', raw: makeMessage('old-2'), flags: [], internalDate: old },
      { folder: 'INBOX', raw: makeMessage('new-1'), flags: [], internalDate: new Date() },
    ]);
    const spec = { id: 'delsrc', localUser: local.user, remoteUser: remote.user, password: remote.password };
    const days = writeSyncConfig(w, [
      { ...spec, options: '{ deleteOnSource: { olderThanDays: 30 }, deleteLimit: { percent: 100 } }' },
    ]);
    const first = await runImapsync(days, { task: 'delsrc' });
    expect(first.result).toMatchObject({ outcome: 'ok', copied: 3, deletedOnSource: 2 });
    const src = await snapshot(w.remote, remote.user);
    expect(src.get('INBOX')).toHaveLength(1);
    expect((await snapshot(w.local, local.user)).get('INBOX')).toHaveLength(3);

    const all = writeSyncConfig(w, [
      { ...spec, options: '{ deleteOnSource: true, deleteLimit: { percent: 100 } }' },
    ]);
    const second = await runImapsync(all, { task: 'delsrc' });
    expect(second.result).toMatchObject({ copied: 0, deletedOnSource: 1 });
    expect((await snapshot(w.remote, remote.user)).get('INBOX')).toHaveLength(0);
    expect((await snapshot(w.local, local.user)).get('INBOX')).toHaveLength(3);
  });

  it('dryRun reports what it would do and changes nothing; justFolders creates folders only', async () => {
    const { remote, local } = await users('dry');
    await seed(w.remote, remote.user, corpus('.', 2, 5000));
    await appendTo(w.local, local.user, 'INBOX', makeMessage('local-only'));
    const config = writeSyncConfig(w, [
      {
        id: 'dry',
        localUser: local.user,
        remoteUser: remote.user,
        password: remote.password,
        options: '{ deleteOnDestination: true, deleteOnSource: true }',
      },
    ]);
    const [srcBefore, dstBefore] = await Promise.all([
      snapshot(w.remote, remote.user),
      snapshot(w.local, local.user),
    ]);
    const dry = await runImapsync(config, { task: 'dry', dryRun: true });
    expect(dry.result).toMatchObject({ outcome: 'ok', dryRun: true, deletedOnDestination: 1 });
    expect(dry.result!.copied).toBe(dry.result!.messagesOnSource);
    expect(dry.result!.created).toContain('Projekte/Überprüfung');
    expect(dry.err).toMatch(/would copy/);
    expect(await snapshot(w.remote, remote.user)).toEqual(srcBefore);
    expect(await snapshot(w.local, local.user)).toEqual(dstBefore);

    const folders = await runImapsync(config, { task: 'dry', justFolders: true });
    expect(folders.result).toMatchObject({ outcome: 'ok', copied: 0, justFolders: true });
    const dst = await snapshot(w.local, local.user);
    expect([...dst.keys()]).toEqual(
      expect.arrayContaining(['Archive', 'Projekte/Überprüfung', 'Projekte/2024/Q1', '日本語']),
    );
    expect(dst.get('Archive')).toHaveLength(0);
    expect(dst.get('INBOX')).toHaveLength(1);
  });

  it('counts what the destination refuses (over quota) and goes on: outcome quota_exceeded', async () => {
    const full = await startDovecot({ separator: '/', quotaKilobytes: 120 });
    try {
      const remote = await w.remote.addUser('r-quota');
      const local = await full.addUser('l-quota');
      const body = 'x'.repeat(70) + '\r\n';
      await seed(w.remote, remote.user, [
        ...Array.from({ length: 6 }, (_, i) => ({
          folder: 'INBOX',
          raw: makeMessage(`big-${i}`, { body: body.repeat(400) }), // about 29 KB each
          flags: [],
          internalDate: new Date('2020-02-02T00:00:00Z'),
        })),
        {
          folder: 'Archiv',
          raw: makeMessage('small'),
          flags: [],
          internalDate: new Date('2020-02-03T00:00:00Z'),
        },
      ]);
      const config = writeSyncConfig({ ...w, local: full }, [
        { id: 'quota', localUser: local.user, remoteUser: remote.user, password: remote.password },
      ]);
      const r = await runImapsync(config, { task: 'quota' });
      expect(r.code).toBe(0);
      expect(r.result).toMatchObject({ outcome: 'quota_exceeded', messagesOnSource: 7 });
      expect(r.result!.refused).toBeGreaterThan(0);
      expect(r.result!.copied + r.result!.refused).toBe(7);
      expect(r.result!.errors[0].reason).toMatch(/\[OVERQUOTA\]/);
      const stored = await snapshot(full, local.user);
      expect([...stored.values()].flat()).toHaveLength(r.result!.copied);
      // the refused ones are tried again next time (and refused again while the quota is full)
      const again = await runImapsync(config, { task: 'quota' });
      expect(again.result).toMatchObject({
        outcome: 'quota_exceeded',
        copied: 0,
        refused: r.result!.refused,
      });
    } finally {
      await full.stop();
    }
  });

  it('testLogin only logs in on both sides', async () => {
    const { remote, local } = await users('test');
    await seed(w.remote, remote.user, corpus('.', 1, 5000));
    const config = writeSyncConfig(w, [
      { id: 'test', localUser: local.user, remoteUser: remote.user, password: remote.password },
    ]);
    const r = await runImapsync(config, { task: 'test', testLogin: true });
    expect(r.result).toMatchObject({ outcome: 'ok', testLogin: true, copied: 0, foldersOnSource: 0 });
    expect([...(await snapshot(w.local, local.user)).keys()].sort()).toEqual([
      'Drafts',
      'INBOX',
      'Junk',
      'Sent',
      'Trash',
    ]);
  });

  it('the state is a cache: with it lost, a rerun copies nothing twice', async () => {
    const { remote, local } = await users('lost');
    await seed(w.remote, remote.user, corpus('.', 3, 5000));
    const config = writeSyncConfig(w, [
      { id: 'lost', localUser: local.user, remoteUser: remote.user, password: remote.password },
    ]);
    const first = await runImapsync(config, { task: 'lost' });
    expect(first.result).toMatchObject({ outcome: 'ok' });
    const before = await snapshot(w.local, local.user);
    const redis = new Redis(w.redis.url);
    try {
      const prefix = loadConfig(config, {}).redis.prefix;
      const keys = await redis.keys(`{${prefix}}:state:imapsync:lost:*`);
      expect(keys.length).toBeGreaterThan(2);
      await redis.del(...keys);
    } finally {
      await redis.quit();
    }
    const again = await runImapsync(config, { task: 'lost' });
    expect(again.result).toMatchObject({
      outcome: 'ok',
      copied: 0,
      alreadyThere: first.result!.messagesOnSource,
    });
    expect(again.result!.work.bodyFetches).toBe(0);
    expect(await snapshot(w.local, local.user)).toEqual(before);
  });
});
