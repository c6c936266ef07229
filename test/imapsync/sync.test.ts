/**
 * imapsync end to end: a generated corpus on a remote Dovecot (separator '.', no special-use
 * attributes) copied into a local Dovecot (separator '/') as `<user>*vmail`: every folder and
 * message once, exact bytes, flags and INTERNALDATE; the source untouched; a rerun that reads
 * nothing; new messages and flag changes carried over.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contents, corpus, makeMessage, masterSession, seed, snapshot } from './corpus.js';
import {
  runImapsync,
  sessionCounters,
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

/** Remote folder → where it must land locally. */
const EXPECTED: Record<string, string> = {
  INBOX: 'INBOX',
  'Sent Items': 'Sent',
  'Deleted Items': 'Trash',
  'Junk E-mail': 'Junk',
  Drafts: 'Drafts',
  Archiv: 'Archive',
  Projekte: 'Projekte',
  'Projekte.Überprüfung': 'Projekte/Überprüfung',
  'Projekte.2024.Q1': 'Projekte/2024/Q1',
  'Kunden & Partner': 'Kunden & Partner',
  日本語: '日本語',
  Alt: 'Alt',
};

describe('imapsync full sync and reruns', () => {
  it('copies every folder and message exactly once, then a rerun reads nothing', async () => {
    const remote = await w.remote.addUser('r-full');
    const local = await w.local.addUser('l-full');
    const messages = corpus('.');
    await seed(w.remote, remote.user, messages);
    const before = await snapshot(w.remote, remote.user);
    const config = writeSyncConfig(w, [
      {
        id: 'full',
        localUser: local.user,
        remoteUser: remote.user,
        password: remote.password,
        options: '{ exclude: ["^Alt\\\\.2019$"] }',
      },
    ]);
    const logBefore = w.local.log().length;
    const first = await runImapsync(config, { task: 'full' });
    expect(first.err).not.toContain('job failed');
    expect(first.code).toBe(0);
    const r = first.result!;
    expect(r).toMatchObject({ outcome: 'ok', copied: messages.length - 6, refused: 0, errors: [] });
    expect(r.excluded).toContainEqual({ source: 'Alt.2019', reason: 'excluded' });

    const after = await snapshot(w.local, local.user);
    for (const [from, to] of Object.entries(EXPECTED)) {
      expect(contents(after.get(to)), `${from} → ${to}`).toEqual(contents(before.get(from)));
    }
    expect(after.has('Alt/2019')).toBe(false);
    // the one message that stands twice in the source stands twice in the destination
    const inbox = contents(after.get('INBOX'));
    const shas = after.get('INBOX')!.map((m) => m.sha);
    expect(shas.length - new Set(shas).size).toBe(1);
    // nothing became \Seen (or changed at all) on the source
    expect(await snapshot(w.remote, remote.user)).toEqual(before);
    // the local side logged in as the master user, for alice's mailbox
    await expect
      .poll(() => w.local.log().slice(logBefore))
      .toContain(`Master user logging in as ${local.user}`);

    const remoteLog = (await settledLog(w.remote, remote.user)).length;
    const again = await runImapsync(config, { task: 'full' });
    expect(again.result).toMatchObject({ outcome: 'ok', copied: 0, flagsUpdated: 0 });
    expect(again.result!.alreadyThere).toBe(r.messagesOnSource);
    expect(again.result!.work).toMatchObject({
      headerFetches: 0,
      bodyFetches: 0,
      flagFetches: 0,
      appendCommands: 0,
    });
    // Dovecot's own counters agree: the rerun read no header and no body on the source
    const rerun = sessionCounters(await settledLog(w.remote, remote.user, remoteLog), remote.user);
    expect(rerun.sessions).toBeGreaterThan(0);
    expect(rerun).toMatchObject({ hdrCount: 0, bodyCount: 0 });
    expect(contents((await snapshot(w.local, local.user)).get('INBOX'))).toEqual(inbox);
  });

  it('carries new messages and flag changes over on the next run', async () => {
    const remote = await w.remote.addUser('r-incr');
    const local = await w.local.addUser('l-incr');
    await seed(w.remote, remote.user, corpus('.', 3, 10_000));
    const config = writeSyncConfig(w, [
      { id: 'incr', localUser: local.user, remoteUser: remote.user, password: remote.password },
    ]);
    expect((await runImapsync(config, { task: 'incr' })).result).toMatchObject({ outcome: 'ok', refused: 0 });

    const client = await masterSession(w.remote, remote.user);
    try {
      await client.append('INBOX', makeMessage('new-1'), ['\\Flagged'], new Date('2011-05-05T10:00:00Z'));
      await client.append('Projekte.Überprüfung', makeMessage('new-2'), [], new Date('2012-06-06T10:00:00Z'));
      await client.mailboxOpen('INBOX');
      await client.messageFlagsAdd('1:2', ['\\Seen', 'Important'], { uid: false });
      await client.messageFlagsRemove('3', ['\\Seen', '\\Flagged'], { uid: false });
    } finally {
      await client.logout();
    }
    const second = await runImapsync(config, { task: 'incr' });
    expect(second.result).toMatchObject({ outcome: 'ok', copied: 2, flagsUpdated: 3 });
    // only the two new messages' bodies were read
    expect(second.result!.work.bodyFetches).toBeLessThanOrEqual(2);
    const src = await snapshot(w.remote, remote.user);
    const dst = await snapshot(w.local, local.user);
    for (const [from, to] of Object.entries(EXPECTED)) {
      expect(contents(dst.get(to)), `${from} → ${to}`).toEqual(contents(src.get(from)));
    }
  });
});
