/**
 * The mailbox is the source of truth: with the account's state gone from Redis (FLUSHALL of
 * this file's private Redis), a rerun delivers nothing twice, even for messages the user has
 * moved into other folders, and still delivers what is new.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { masterSession } from '../helpers/master-session.js';
import { deliverTo, mailbox, message, runGetmail, traces, useWorld, writeWorldConfig } from './world.js';

const w = useWorld();

/** Every message of `user`'s local mailbox, in any folder. */
async function everyMessage(user: string) {
  const client = await masterSession(w.local, user);
  const folders = (await client.list()).filter((f) => !f.flags.has('\\Noselect')).map((f) => f.path);
  await client.logout();
  const all = await Promise.all(
    folders.map(async (f) => ({ folder: f, stored: await mailbox(w.local, user, f) })),
  );
  return all.flatMap(({ folder, stored }) => stored.map((m) => ({ ...m, folder })));
}

const messageIds = (list: { source: Buffer }[]) =>
  list.map((m) => /^Message-ID: <([^@]+)@/m.exec(m.source.toString('latin1'))?.[1]).sort();

describe.each(['pop3', 'imap'] as const)('%s, delete: never', (protocol) => {
  it('after FLUSHALL, a rerun delivers only what is new, wherever the user moved the rest', async () => {
    const remote = await w.remote.addUser(`r-rb-${protocol}`);
    const local = await w.local.addUser(`l-rb-${protocol}`);
    const id = `rb-${protocol}@remote.test`;
    const archive = 'Archiv Ä 2026'; // a folder name the trace holds percent-encoded
    const r = await masterSession(w.remote, remote.user);
    const status = await r.status('INBOX', { uidNext: true, uidValidity: true });
    if (!status) throw new Error('remote INBOX has no STATUS');
    // A remote message brings along a trace naming the message still to come: only our
    // topmost trace of a local message counts, so that one must still be delivered.
    const futureUid = status.uidNext! + 5;
    const hex8 = (n: number | bigint) => n.toString(16).toUpperCase().padStart(8, '0'); // UIDL %08Xu%08Xv
    const future =
      protocol === 'pop3'
        ? `pop3/${hex8(futureUid)}${hex8(status.uidValidity!)}`
        : `${status.uidValidity}/${futureUid}`;
    await deliverTo(w.remote, remote.user, [
      message(`${protocol}-0`, undefined, [`X-Mailjobs-Fetched: ${id} ${future};`]),
      ...[1, 2, 3, 4].map((i) => message(`${protocol}-${i}`)),
    ]);
    if (protocol === 'imap') {
      await r.mailboxCreate(archive);
      for (const i of [5, 6]) await r.append(archive, message(`${protocol}-${i}`));
    }
    await r.logout();
    const file = writeWorldConfig(w, [
      {
        id,
        protocol,
        user: remote.user,
        password: remote.password,
        deliverTo: local.user,
        ...(protocol === 'imap' ? { folders: `[INBOX, "${archive}"]` } : {}),
      },
    ]);
    const total = protocol === 'imap' ? 7 : 5;
    expect((await runGetmail(file, id)).result).toMatchObject({ delivered: total, failed: 0 });

    // the user files some into Junk and a folder of their own
    const l = await masterSession(w.local, local.user);
    await l.mailboxCreate('Kept & Old');
    await l.mailboxOpen('INBOX');
    await l.messageMove('1:2', 'Junk', { uid: true });
    await l.messageMove('3', 'Kept & Old', { uid: true });
    await l.logout();

    const redis = new Redis(w.redis.url);
    await redis.flushall(); // this file's private Redis: the state is gone
    await redis.quit();
    await deliverTo(w.remote, remote.user, [message(`${protocol}-new`)]);

    const rerun = await runGetmail(file, id);
    expect(rerun.err).not.toContain('job failed');
    expect(rerun.result).toMatchObject({ fetched: 1, delivered: 1, failed: 0 });
    const stored = await everyMessage(local.user);
    const expected = [...Array.from({ length: total }, (_, i) => `${protocol}-${i}`), `${protocol}-new`];
    expect(messageIds(stored)).toEqual(expected.sort());
    expect(new Set(traces(stored)).size).toBe(stored.length);
    expect(new Set(stored.map((m) => m.folder))).toEqual(new Set(['INBOX', 'Junk', 'Kept & Old']));

    // the state is back: a third run finds nothing new and searches no mailbox
    expect((await runGetmail(file, id)).result).toMatchObject({ fetched: 0, delivered: 0 });
  }, 60_000);
});
