/**
 * The other direction: a remote with '/' (no special-use attributes) into a local Dovecot with
 * '.' (Maildir++): levels translated, a '.' inside a name kept as one level, and the whole tree
 * under a destination subfolder when asked.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type CorpusMessage, contents, makeMessage, seed, snapshot } from './corpus.js';
import { runImapsync, startSyncWorld, type SyncWorld, writeSyncConfig } from './world.js';

let w: SyncWorld;
beforeAll(async () => {
  w = await startSyncWorld({ remoteSeparator: '/', localSeparator: '.' });
});
afterAll(async () => {
  await w?.stop();
});

const FOLDERS = ['INBOX', 'Sent Items', 'Kunden/Straße/2023', 'v1.2', 'Entwürfe'];
const messages = (): CorpusMessage[] =>
  FOLDERS.flatMap((folder, f) =>
    [0, 1].map((i) => ({
      folder,
      raw: makeMessage(`sep-${f}-${i}`),
      flags: i ? ['\\Seen', 'Keyword1'] : [],
      internalDate: new Date(Date.UTC(2008, f, i + 1)),
    })),
  );

it("translates '/' into '.', keeps a name holding '.' as one level, maps special names", async () => {
  const remote = await w.remote.addUser('r-sep');
  const local = await w.local.addUser('l-sep');
  await seed(w.remote, remote.user, messages());
  const config = writeSyncConfig(w, [
    { id: 'sep', localUser: local.user, remoteUser: remote.user, password: remote.password },
  ]);
  const r = await runImapsync(config, { task: 'sep' });
  expect(r.result).toMatchObject({ outcome: 'ok', copied: 10 });
  const src = await snapshot(w.remote, remote.user);
  const dst = await snapshot(w.local, local.user);
  const expected: Record<string, string> = {
    INBOX: 'INBOX',
    'Sent Items': 'Sent',
    'Kunden/Straße/2023': 'Kunden.Straße.2023',
    'v1.2': 'v1_2',
    Entwürfe: 'Drafts',
  };
  for (const [from, to] of Object.entries(expected)) {
    expect(contents(dst.get(to)), `${from} → ${to}`).toEqual(contents(src.get(from)));
  }
});

it('puts everything under a subfolder, INBOX as the subfolder itself', async () => {
  const remote = await w.remote.addUser('r-sub');
  const local = await w.local.addUser('l-sub');
  await seed(w.remote, remote.user, messages());
  const config = writeSyncConfig(w, [
    {
      id: 'sub',
      localUser: local.user,
      remoteUser: remote.user,
      password: remote.password,
      options: '{ subfolder: "Old account" }',
    },
  ]);
  expect((await runImapsync(config, { task: 'sub' })).result).toMatchObject({ outcome: 'ok', copied: 10 });
  const src = await snapshot(w.remote, remote.user);
  const dst = await snapshot(w.local, local.user);
  expect(contents(dst.get('Old account'))).toEqual(contents(src.get('INBOX')));
  expect(contents(dst.get('Old account.Sent Items'))).toEqual(contents(src.get('Sent Items')));
  expect(contents(dst.get('Old account.Kunden.Straße.2023'))).toEqual(
    contents(src.get('Kunden/Straße/2023')),
  );
  expect(dst.get('INBOX')).toHaveLength(0);
});
