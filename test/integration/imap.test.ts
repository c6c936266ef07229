/**
 * The IMAP layer (src/mail/imap.ts) against a private Dovecot with TLS: security modes and
 * error classification, folder selection, UIDs and sizes, byte-exact downloads that leave
 * messages unseen, UIDPLUS deletes, and the trace-header search as the master user.
 */
import type { ImapFlow } from 'imapflow';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, PermanentJobError, ProtocolError } from '../../src/core/errors.js';
import {
  type ImapConnectOptions,
  connectImap,
  deleteUids,
  downloadTo,
  listFetchFolders,
  listUids,
  localMessageExists,
  openFolder,
  sizesOf,
} from '../../src/mail/imap.js';
import { LmtpClient } from '../../src/mail/lmtp.js';
import { MessageSpool } from '../../src/mail/spool.js';
import { type DovecotFixture, type DovecotUser, startDovecot } from '../fixtures/dovecot.js';
import { freePort } from '../fixtures/ports.js';

const FROM = 'bob@example.org';
const TRACE = 'X-Mailjobs-Fetched';

/** A message with 8-bit and invalid UTF-8 bytes, CRLF line endings, optional extra headers. */
function message(id: string, extraHeaders: string[] = []): Buffer {
  const head = [...extraHeaders, 'From: Bob <bob@example.org>', `Message-ID: <${id}>`, `Subject: ${id}`];
  const body = [
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  const text = [...head, ...body, '', 'Caf\u00e9 cr\u00e8me \u2014 8-bit', '.a dotted line', 'end'].join(
    '\r\n',
  );
  return Buffer.concat([
    Buffer.from(`${text}\r\n`, 'utf8'),
    Buffer.from([0xff, 0xfe, 0x80, 0x41, 0x0d, 0x0a]),
  ]);
}

/** About 3 MB: past the spool's 1 MB threshold and many download chunks long. */
function bigMessage(id: string): Buffer {
  const lines: string[] = [];
  for (let i = 0; lines.length < 40_000; i++) lines.push(`${i} ${'\u00e9abcdefghij'.repeat(6)}`);
  return Buffer.concat([message(id), Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf8')]);
}

describe('IMAP layer against a private Dovecot (TLS on)', () => {
  let dovecot: DovecotFixture;
  let users = 0;
  const clients: ImapFlow[] = [];

  beforeAll(async () => {
    dovecot = await startDovecot({ tls: true });
  });

  afterAll(async () => {
    await dovecot?.stop();
  });

  afterEach(() => {
    // Every connection a test opened must be gone by its end.
    const open = clients.splice(0).filter((c) => c.usable);
    for (const c of open) c.close();
    expect(open.length, 'IMAP connections left open').toBe(0);
  });

  /** A fresh mailbox user per test, so tests never see each other's messages. */
  function freshUser(): Promise<DovecotUser> {
    return dovecot.addUser(`user${++users}`);
  }

  function options(u: DovecotUser, extra: Partial<ImapConnectOptions> = {}): ImapConnectOptions {
    return {
      host: '127.0.0.1',
      port: dovecot.imapPort,
      security: 'none',
      verifyCertificate: false,
      user: u.user,
      password: u.password,
      connectTimeoutMs: 10_000,
      ...extra,
    };
  }

  async function connect(u: DovecotUser, extra: Partial<ImapConnectOptions> = {}): Promise<ImapFlow> {
    const client = await connectImap(options(u, extra));
    clients.push(client);
    return client;
  }

  async function deliver(user: string, messages: Buffer[]): Promise<void> {
    const lmtp = new LmtpClient({ host: '127.0.0.1', port: dovecot.lmtpPort });
    await lmtp.connect();
    try {
      for (const m of messages)
        expect((await lmtp.deliver({ from: FROM, to: user, message: m })).code).toBe(250);
    } finally {
      await lmtp.close();
    }
  }

  /** What Dovecot stores for an LMTP delivery: its Return-Path line, then the exact input. */
  function stored(m: Buffer): Buffer {
    return Buffer.concat([Buffer.from(`Return-Path: <${FROM}>\r\n`), m]);
  }

  /** uid → flags of every message in `folder`, read without changing anything. */
  async function flagsIn(u: DovecotUser, folder: string): Promise<Map<number, string[]>> {
    const client = await connect(u);
    try {
      await client.mailboxOpen(folder, { readOnly: true });
      const all = await client.fetchAll('1:*', { uid: true, flags: true });
      return new Map(all.map((m) => [m.uid, [...(m.flags ?? [])]]));
    } finally {
      await client.logout();
    }
  }

  it('connects in each security mode: none, STARTTLS and implicit TLS (verification off)', async () => {
    const u = await freshUser();
    for (const [security, port] of [
      ['none', dovecot.imapPort],
      ['starttls', dovecot.imapPort],
      ['tls', dovecot.imapsPort!],
    ] as const) {
      const client = await connect(u, { security, port });
      expect(client.secureConnection, security).toBe(security !== 'none');
      expect(client.authenticated).toBeTruthy();
      await client.logout();
    }
  });

  it('with verification on, the self-signed certificate is a ProtocolError ETLS naming host and reason', async () => {
    const u = await freshUser();
    for (const [security, port] of [
      ['starttls', dovecot.imapPort],
      ['tls', dovecot.imapsPort!],
    ] as const) {
      const err = await connectImap(options(u, { security, port, verifyCertificate: true })).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ProtocolError);
      expect(err).toMatchObject({ code: 'ETLS' });
      expect((err as Error).message).toMatch(/127\.0\.0\.1.*self-signed certificate/);
    }
  });

  it('a wrong password is an AuthenticationError naming user and host, never the password', async () => {
    const u = await freshUser();
    const wrong = `${u.password}-wrong`;
    const err = await connectImap(options(u, { password: wrong })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as Error).message).toContain(`${u.user} at 127.0.0.1`);
    expect((err as Error).message).not.toContain(wrong);
  });

  it('a closed port is ECONNECTION; an aborted session rejects with the abort reason', async () => {
    const u = await freshUser();
    await expect(connectImap(options(u, { port: await freePort() }))).rejects.toMatchObject({
      name: 'ProtocolError',
      code: 'ECONNECTION',
    });
    const controller = new AbortController();
    const client = await connect(u, { signal: controller.signal });
    controller.abort(new Error('job cancelled'));
    await expect(openFolder(client, 'INBOX', { readOnly: true })).rejects.toThrow('job cancelled');
    expect(client.usable).toBe(false);
  });

  it("listFetchFolders('all') skips Junk and Trash; a list must name existing folders", async () => {
    const u = await freshUser();
    const client = await connect(u);
    try {
      await client.mailboxCreate('Archive/2024');
      const all = (await listFetchFolders(client, 'all')).map((f) => f.path);
      expect(all).toEqual(expect.arrayContaining(['INBOX', 'Sent', 'Drafts', 'Archive/2024']));
      expect(all).not.toContain('Junk');
      expect(all).not.toContain('Trash');
      const chosen = await listFetchFolders(client, ['inbox', 'Archive/2024', 'Junk']);
      expect(chosen.map((f) => f.path)).toEqual(['INBOX', 'Archive/2024', 'Junk']);
      const err = await listFetchFolders(client, ['INBOX', 'Nope']).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PermanentJobError);
      expect(err).toMatchObject({ code: 'ENOMAILBOX' });
      expect((err as Error).message).toContain('"Nope"');
    } finally {
      await client.logout();
    }
  });

  it('openFolder, listUids and sizesOf report the delivered messages', async () => {
    const u = await freshUser();
    const messages = [message('a@test'), message('b@test', ['X-Extra: more bytes'])];
    await deliver(u.user, messages);
    const client = await connect(u);
    try {
      const folder = await openFolder(client, 'INBOX', { readOnly: true });
      expect(folder).toMatchObject({ path: 'INBOX', exists: 2, uidNext: 3, readOnly: true });
      expect(folder.uidValidity).toMatch(/^[1-9]\d*$/);
      const uids = await listUids(client);
      expect(uids).toEqual([1, 2]);
      const sizes = await sizesOf(client, [...uids, 99]);
      expect(sizes).toEqual(new Map(messages.map((m, i) => [i + 1, stored(m).length])));
    } finally {
      await client.logout();
    }
  });

  it('downloadTo gives exactly the stored bytes (8-bit, 3 MB, APPENDed) and leaves them unseen', async () => {
    const u = await freshUser();
    const small = message('small@test');
    const big = bigMessage('big@test');
    expect(big.length).toBeGreaterThan(3_000_000);
    await deliver(u.user, [small, big]);
    const appended = message('appended@test');
    const client = await connect(u);
    try {
      await client.mailboxCreate('Archive');
      await client.append('Archive', appended);
      for (const [folder, uid, expected] of [
        ['INBOX', 1, stored(small)],
        ['INBOX', 2, stored(big)],
        ['Archive', 1, appended],
      ] as const) {
        // Read-write on purpose: BODY[] (not .PEEK) would set \Seen here.
        await openFolder(client, folder, { readOnly: false });
        const spool = new MessageSpool();
        try {
          const result = await downloadTo(client, uid, spool);
          await spool.close();
          expect(result).toEqual({ bytes: expected.length, expectedSize: expected.length });
          expect(spool.spilled).toBe(expected.length > 1024 * 1024);
          const bytes = Buffer.concat(await spool.stream().toArray());
          expect(bytes.equals(expected), `${folder} UID ${uid} byte for byte`).toBe(true);
        } finally {
          await spool.dispose();
        }
      }
      expect(await downloadTo(client, 99, new MessageSpool())).toBeUndefined();
    } finally {
      await client.logout();
    }
    for (const folder of ['INBOX', 'Archive']) {
      for (const [uid, flags] of await flagsIn(u, folder))
        expect(flags, `${folder} UID ${uid}`).not.toContain('\\Seen');
    }
  });

  it('deleteUids removes only those UIDs, not other messages flagged \\Deleted', async () => {
    const u = await freshUser();
    await deliver(
      u.user,
      [1, 2, 3, 4].map((n) => message(`del-${n}@test`)),
    );
    // The user's own client marked UID 2 deleted without expunging it.
    const other = await connect(u);
    await other.mailboxOpen('INBOX');
    await other.messageFlagsAdd('2', ['\\Deleted'], { uid: true });
    await other.logout();
    const client = await connect(u);
    try {
      await openFolder(client, 'INBOX', { readOnly: false });
      expect(client.capabilities.has('UIDPLUS')).toBe(true);
      expect(await deleteUids(client, [1, 3])).toBe('expunged');
      expect(await listUids(client)).toEqual([2, 4]);
    } finally {
      await client.logout();
    }
    expect((await flagsIn(u, 'INBOX')).get(2)).toContain('\\Deleted');
  });

  it('localMessageExists finds the trace header exactly, in INBOX, Junk and other folders, as alice*vmail', async () => {
    const alice = await dovecot.addUser('alice');
    await deliver('alice', [message('in-inbox@test', [`${TRACE}: acct 7/55;`])]);
    const client = await connect(alice);
    try {
      await client.append('Junk', message('in-junk@test', [`${TRACE}: acct 7/6;`]));
      await client.mailboxCreate('Filed');
      await client.append('Filed', message('filed@test', [`${TRACE}: acct 7/8;`]));
    } finally {
      await client.logout();
    }
    const local = {
      host: '127.0.0.1',
      port: dovecot.imapPort,
      security: 'none' as const,
      verifyCertificate: false,
      user: 'alice',
      masterUser: dovecot.masterUser,
      masterPassword: dovecot.masterPassword,
    };
    expect(await localMessageExists(local, TRACE, 'acct 7/55;')).toBe(true);
    expect(await localMessageExists(local, TRACE, 'acct 7/6;')).toBe(true);
    expect(await localMessageExists(local, TRACE, 'acct 7/8;')).toBe(true);
    // SEARCH HEADER is a substring match: "acct 7/5" is in "acct 7/55;", but is not that value.
    expect(await localMessageExists(local, TRACE, 'acct 7/5')).toBe(false);
    expect(await localMessageExists(local, TRACE, 'other 7/55;')).toBe(false);
    const yesterday = new Date(Date.now() - 24 * 3600 * 1000);
    const nextWeek = new Date(Date.now() + 7 * 24 * 3600 * 1000);
    expect(await localMessageExists({ ...local, deliveredSince: yesterday }, TRACE, 'acct 7/55;')).toBe(true);
    expect(await localMessageExists({ ...local, deliveredSince: nextWeek }, TRACE, 'acct 7/55;')).toBe(false);
    await expect(localMessageExists({ ...local, masterPassword: 'wrong' }, TRACE, 'x')).rejects.toThrow(
      AuthenticationError,
    );
    // Each of the 7 successful calls logged in as alice*vmail (Dovecot logs the master login)...
    // Dovecot's log process writes asynchronously: wait for the last line.
    const masterLogins = (): number => dovecot.log().match(/Master user logging in as alice$/gm)?.length ?? 0;
    await expect.poll(masterLogins, { timeout: 30_000 }).toBeGreaterThanOrEqual(7);
    expect(masterLogins()).toBe(7);
    // ...and logged out again: no session of alice is left.
    const noSessions = async (): Promise<boolean> => {
      const who = await dovecot.doveadm(['who']);
      return who.code === 0 && !/^alice\s/m.test(who.stdout);
    };
    await expect.poll(noSessions, { timeout: 30_000 }).toBe(true);
    for (const [uid, flags] of await flagsIn(alice, 'INBOX'))
      expect(flags, `UID ${uid}`).not.toContain('\\Seen');
  });
});
