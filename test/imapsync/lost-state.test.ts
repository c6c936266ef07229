/**
 * imapsync with its state gone from Redis (FLUSHALL of this file's private Redis): the rerun
 * finds every message already on the destination by its identity and copies nothing twice.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { contents, corpus, makeMessage, masterSession, seed, snapshot } from './corpus.js';
import { runImapsync, startSyncWorld, type SyncWorld, writeSyncConfig } from './world.js';

let w: SyncWorld;
beforeAll(async () => {
  w = await startSyncWorld();
});
afterAll(async () => {
  await w?.stop();
});

it('after FLUSHALL, a rerun copies only what is new: the rest is counted alreadyThere', async () => {
  const remote = await w.remote.addUser('r-lost');
  const local = await w.local.addUser('l-lost');
  await seed(w.remote, remote.user, corpus('.', 3, 10_000));
  const config = writeSyncConfig(w, [
    { id: 'lost', localUser: local.user, remoteUser: remote.user, password: remote.password },
  ]);
  const first = await runImapsync(config, { task: 'lost' });
  expect(first.result).toMatchObject({ outcome: 'ok', refused: 0 });
  const copied = first.result!.copied as number;
  expect(copied).toBeGreaterThan(0);

  const redis = new Redis(w.redis.url);
  await redis.flushall();
  await redis.quit();
  const client = await masterSession(w.remote, remote.user);
  await client.append('INBOX', makeMessage('after-flush'), [], new Date('2013-07-07T10:00:00Z'));
  await client.logout();

  const rerun = await runImapsync(config, { task: 'lost' });
  expect(rerun.result).toMatchObject({ outcome: 'ok', copied: 1, alreadyThere: copied, refused: 0 });
  // every destination folder holds exactly what its source folder holds: nothing twice
  const src = await snapshot(w.remote, remote.user);
  const dst = await snapshot(w.local, local.user);
  const all = (s: Map<string, { sha: string }[]>) =>
    [...s.values()]
      .flat()
      .map((m) => m.sha)
      .sort();
  expect(all(dst)).toEqual(all(src));
  expect(contents(dst.get('INBOX'))).toEqual(contents(src.get('INBOX')));
});
