/**
 * The README's spool for mailboxes owned by system users: the folder belongs to root and a group,
 * mode 2770, and `mail_access_groups` gives Dovecot's mail processes (so the sh spooler they run)
 * that group. Without the setting the mail user cannot write there and the move is not learned
 * (logged); with it, a move into Junk is spooled, group-owned. contrib/dovecot installed
 * unchanged (test/junk/imapsieve.ts); no worker: the spool file itself is the proof.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDovecot, type DovecotFixture } from '../fixtures/dovecot.js';
import { makeTempDir, removeTempDir, run } from '../fixtures/service.js';
import {
  compileScripts,
  includeLine,
  installContrib,
  installIn,
  ownSpool,
  type Install,
} from './imapsieve.js';
import { wordyMessage } from './mailboxes.js';

const group = `mjs${randomBytes(3).toString('hex')}`;
let dir: string;
let i: Install;
let fx: DovecotFixture;
let password: string;

beforeAll(async () => {
  const added = await run('groupadd', ['--system', group]);
  if (added.code !== 0) throw new Error(`groupadd ${group} failed: ${added.stderr}`);
  const gid = Number((await run('getent', ['group', group])).stdout.split(':')[2]);
  dir = await makeTempDir('learn-spool-group');
  i = installIn(dir);
  await installContrib(i, 64);
  fx = await startDovecot({ imapsieve: includeLine(i) });
  await ownSpool(i, { uid: 0, gid });
  await compileScripts(i, fx.configFile);
  password = (await fx.addUser('alice')).password;
}, 120_000);

afterAll(async () => {
  const results = await Promise.allSettled([fx?.stop(), dir ? removeTempDir(dir) : undefined]);
  await run('groupdel', [group]);
  const failed = results.find((x) => x.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
});

/** alice appends a message to INBOX and moves it into Junk, as a mail client does. */
async function moveIntoJunk(id: string): Promise<void> {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: fx.imapPort,
    secure: false,
    auth: { user: 'alice', pass: password },
    logger: false,
  });
  await c.connect();
  try {
    await c.append('INBOX', wordyMessage(id));
    await c.mailboxOpen('INBOX');
    const uids = await c.search({ header: { 'message-id': `<${id}@` } }, { uid: true });
    expect(uids).toHaveLength(1);
    await c.messageMove((uids as number[]).join(','), 'Junk', { uid: true });
  } finally {
    await c.logout();
  }
}

const spooled = async () => (await readdir(i.spoolDir)).filter((n) => n.endsWith('.learn'));

it('without mail_access_groups the mail user cannot write the group spool: not learned, logged', async () => {
  await moveIntoJunk('g1');
  // The spooler runs within the MOVE (IMAPSieve pipes before the answer).
  expect(fx.log()).toContain(
    `mailjobs learn: user=alice class=spam: not learned: cannot write into ${i.spoolDir}`,
  );
  expect(await spooled()).toEqual([]);
});

it('with mail_access_groups = <the spool group>, a move into Junk is spooled, group-owned', async () => {
  // README: "mail_access_groups = mailjobs (in conf.d/10-mail.conf)".
  await writeFile(path.join(i.confDir, '10-mail.conf'), `mail_access_groups = ${group}\n`);
  await fx.reload();
  await moveIntoJunk('g2');
  const files = await spooled();
  expect(files).toHaveLength(1);
  const file = path.join(i.spoolDir, files[0]!);
  const st = await stat(file);
  expect([st.gid, st.mode & 0o777]).toEqual([(await stat(i.spoolDir)).gid, 0o660]);
  expect((await readFile(file, 'latin1')).split('\n')[0]).toMatch(
    /^\{"v":1,"class":"spam","user":"alice","movedAt":\d+\}$/,
  );
});
