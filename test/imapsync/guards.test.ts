/**
 * imapsync's deletion guardrail and folder control against the real Dovecot pair: a run that
 * would delete more than `deleteLimit` allows deletes nothing and fails saying why, a dry run
 * lists what would go; `automap: false` keeps names as they are; `folderMap` renames (exact
 * names, then rewrites), every mapping named in the result; a Gmail-like tree presenting the same
 * message in several folders gets it once.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CorpusMessage, contents, makeMessage, seed, snapshot } from './corpus.js';
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

const msg = (folder: string, tag: string, i = 0): CorpusMessage => ({
  folder,
  raw: makeMessage(tag),
  flags: [],
  internalDate: new Date(Date.UTC(2019, 0, 1) + i * 60_000),
});

describe('deletion guardrail', () => {
  it('a run that would delete more than the limit deletes nothing and says why; a dry run lists it', async () => {
    const { remote, local } = await users('dlimit');
    const shared = Array.from({ length: 20 }, (_, i) => msg('INBOX', `kept-${i}`, i));
    await seed(w.remote, remote.user, shared);
    // 20 in common, 5 local-only: deleteOnDestination would delete 5 of 25 = 20 % > 10 %.
    await seed(w.local, local.user, [
      ...shared,
      ...Array.from({ length: 5 }, (_, i) => msg('INBOX', `extra-${i}`, 100 + i)),
    ]);
    const spec = { id: 'dlimit', localUser: local.user, remoteUser: remote.user, password: remote.password };
    const config = writeSyncConfig(w, [{ ...spec, options: '{ deleteOnDestination: true }' }]);

    const dry = await runImapsync(config, { task: 'dlimit', dryRun: true });
    expect(dry.code).toBe(0);
    const inbox = (dry.result!.folders as Record<string, unknown>[]).find((f) => f.source === 'INBOX')!;
    expect(inbox.wouldDelete).toEqual({ destination: [21, 22, 23, 24, 25] });
    expect(inbox.deleteLimit).toMatch(/would delete 5 of the 25 messages in destination folder "INBOX"/);
    expect(dry.err).toContain('INBOX: would delete 5 on destination (UIDs 21,22,23,24,25)');

    const run = await runImapsync(config, { task: 'dlimit' });
    expect(run.code).not.toBe(0);
    expect(run.err).toContain(
      'deletion limit: deleteOnDestination would delete 5 of the 25 messages in destination folder "INBOX", more than options.deleteLimit allows (10 % = 2, at most 500 messages); nothing deleted in that folder, the run stopped',
    );
    expect(run.err).not.toMatch(/\n\s+at /); // one line, no stack
    expect((await snapshot(w.local, local.user)).get('INBOX')).toHaveLength(25);

    // A count limit too: 5 is more than messages: 4, whatever the share.
    const byCount = writeSyncConfig(w, [
      { ...spec, options: '{ deleteOnDestination: true, deleteLimit: { percent: 100, messages: 4 } }' },
    ]);
    const counted = await runImapsync(byCount, { task: 'dlimit' });
    expect(counted.err).toMatch(/would delete 5 of the 25 .* \(100 % = 25, at most 4 messages\)/);
    expect((await snapshot(w.local, local.user)).get('INBOX')).toHaveLength(25);

    const raised = writeSyncConfig(w, [
      { ...spec, options: '{ deleteOnDestination: true, deleteLimit: { percent: 20 } }' },
    ]);
    const ok = await runImapsync(raised, { task: 'dlimit' });
    expect(ok.result).toMatchObject({ outcome: 'ok', deletedOnDestination: 5 });
    expect(contents((await snapshot(w.local, local.user)).get('INBOX'))).toEqual(
      contents((await snapshot(w.remote, remote.user)).get('INBOX')),
    );
  }, 120_000);

  it('deleteOnSource over the limit: neither side deletes anything', async () => {
    const { remote, local } = await users('slimit');
    await seed(
      w.remote,
      remote.user,
      Array.from({ length: 10 }, (_, i) => msg('INBOX', `s-${i}`, i)),
    );
    await seed(w.local, local.user, [msg('INBOX', 'local-only', 50)]);
    const spec = { id: 'slimit', localUser: local.user, remoteUser: remote.user, password: remote.password };
    // Destination: 1 of 11 within 10 % rounds down to 1; source: 10 of 10, far over.
    const config = writeSyncConfig(w, [
      { ...spec, options: '{ deleteOnDestination: true, deleteOnSource: true }' },
    ]);
    const run = await runImapsync(config, { task: 'slimit' });
    expect(run.err).toContain('deleteOnSource would delete 10 of the 10 messages in source folder "INBOX"');
    expect((await snapshot(w.remote, remote.user)).get('INBOX')).toHaveLength(10);
    expect((await snapshot(w.local, local.user)).get('INBOX')).toHaveLength(11); // copied, none deleted
  }, 120_000);
});

describe('folder control', () => {
  it('automap off keeps the names; on, Entwürfe goes to Drafts; each mapping is named', async () => {
    const { remote, local } = await users('automap');
    await seed(w.remote, remote.user, [
      msg('INBOX', 'a-in'),
      msg('Entwürfe', 'a-draft'),
      msg('Gesendet', 'a-sent'),
    ]);
    const spec = { id: 'automap', localUser: local.user, remoteUser: remote.user, password: remote.password };
    const off = writeSyncConfig(w, [{ ...spec, options: '{ automap: false }' }]);
    const r = await runImapsync(off, { task: 'automap' });
    expect(r.result).toMatchObject({ outcome: 'ok', copied: 3, mappings: [] });
    const dst = await snapshot(w.local, local.user);
    expect(dst.get('Entwürfe')).toHaveLength(1);
    expect(dst.get('Gesendet')).toHaveLength(1);
    expect(dst.get('Drafts') ?? []).toHaveLength(0);

    const { remote: r2, local: l2 } = await users('automap-on');
    await seed(w.remote, r2.user, [msg('Entwürfe', 'b-draft')]);
    const on = writeSyncConfig(w, [
      { id: 'automap-on', localUser: l2.user, remoteUser: r2.user, password: r2.password },
    ]);
    const r3 = await runImapsync(on, { task: 'automap-on' });
    expect(r3.result!.mappings).toEqual([
      { source: 'Entwürfe', destination: 'Drafts', by: 'automap \\Drafts' },
    ]);
    expect(r3.err).toContain('mapped: Entwürfe → Drafts (automap \\Drafts)');
    expect((await snapshot(w.local, l2.user)).get('Drafts')).toHaveLength(1);
  }, 120_000);

  it('folderMap: exact names, then rewrites; the report names every mapping', async () => {
    const { remote, local } = await users('rename');
    await seed(w.remote, remote.user, [
      msg('INBOX', 'r-in'),
      msg('Kunden', 'r-k'),
      msg('Projekte.2019', 'r-p19'),
      msg('Projekte.2020', 'r-p20'),
      msg('Sent Items', 'r-sent'),
    ]);
    const spec = { id: 'rename', localUser: local.user, remoteUser: remote.user, password: remote.password };
    const config = writeSyncConfig(w, [
      {
        ...spec,
        options: `{ folderMap: { names: { "Kunden": "Clients/Current" }, rewrite: [{ match: "^Projekte/(\\\\d+)$", replace: "Archive/Projects $1" }] } }`,
      },
    ]);
    const r = await runImapsync(config, { task: 'rename' });
    expect(r.result).toMatchObject({ outcome: 'ok', copied: 5 });
    expect(r.result!.mappings).toEqual(
      expect.arrayContaining([
        { source: 'Kunden', destination: 'Clients/Current', by: 'folderMap' },
        { source: 'Projekte.2019', destination: 'Archive/Projects 2019', by: 'rewrite ^Projekte/(\\d+)$' },
        { source: 'Projekte.2020', destination: 'Archive/Projects 2020', by: 'rewrite ^Projekte/(\\d+)$' },
        { source: 'Sent Items', destination: 'Sent', by: 'automap \\Sent' },
      ]),
    );
    expect(r.result!.mappings).toHaveLength(4);
    const dst = await snapshot(w.local, local.user);
    for (const folder of [
      'Clients/Current',
      'Archive/Projects 2019',
      'Archive/Projects 2020',
      'Sent',
      'INBOX',
    ])
      expect(dst.get(folder), folder).toHaveLength(1);
    expect(dst.get('Kunden') ?? []).toHaveLength(0);
  }, 120_000);

  it('a Gmail-like tree (labels, All Mail, Important, Starred) gets each message once', async () => {
    const { remote, local } = await users('gmail');
    // One message in INBOX, a label, All Mail, Important and Starred; one only in All Mail
    // (archived); one in two labels and All Mail.
    const a = makeMessage('g-a');
    const b = makeMessage('g-b');
    const c = makeMessage('g-c');
    const at = (folder: string, raw: Buffer): CorpusMessage => ({
      folder,
      raw,
      flags: [],
      internalDate: new Date('2021-03-01T00:00:00Z'),
    });
    await seed(w.remote, remote.user, [
      at('INBOX', a),
      at('Work', a),
      at('[Gmail].All Mail', a),
      at('[Gmail].Important', a),
      at('[Gmail].Starred', a),
      at('[Gmail].All Mail', b),
      at('Work', c),
      at('Travel', c),
      at('[Gmail].All Mail', c),
    ]);
    const spec = { id: 'gmail', localUser: local.user, remoteUser: remote.user, password: remote.password };
    const config = writeSyncConfig(w, [spec]);
    const r = await runImapsync(config, { task: 'gmail' });
    // a: in INBOX or Work (whichever claims it first), not again in the other nor in All Mail;
    // c: in Work or Travel; b: only in All Mail, so copied from there (to Archive).
    expect(r.result).toMatchObject({ outcome: 'ok', copied: 3, duplicates: 4 });
    expect(r.result!.excluded).toEqual(
      expect.arrayContaining([
        { source: '[Gmail].Important', reason: 'gmail view' },
        { source: '[Gmail].Starred', reason: 'gmail view' },
      ]),
    );
    const dst = await snapshot(w.local, local.user);
    const all = [...dst.values()].flatMap((list) => contents(list));
    const src = [...(await snapshot(w.remote, remote.user)).values()].flatMap((list) => contents(list));
    expect(all.sort()).toEqual([...new Set(src)].sort()); // each message once, intact
    const bSha = createHash('sha256').update(b).digest('hex');
    expect(contents(dst.get('Archive')).map((m) => m.split(' ')[0])).toEqual([bSha]);
    // Again: nothing new, nothing twice.
    const again = await runImapsync(config, { task: 'gmail' });
    expect(again.result).toMatchObject({ outcome: 'ok', copied: 0 });
    const after = await snapshot(w.local, local.user);
    expect([...after.values()].flatMap((list) => contents(list))).toHaveLength(3);
  }, 120_000);
});
