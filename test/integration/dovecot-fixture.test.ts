/**
 * The Redis and Dovecot fixtures start real private services, and the LMTP client delivers
 * into that Dovecot byte for byte: checked back over IMAP (master user), POP3, STARTTLS and
 * implicit TLS.
 */
import net from 'node:net';
import tls from 'node:tls';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LmtpClient, type LmtpTarget } from '../../src/mail/lmtp.js';
import { type DovecotFixture, startDovecot } from '../fixtures/dovecot.js';
import { type RedisFixture, startRedis } from '../fixtures/redis.js';

const FROM = 'bob@example.org';

/** A message with 8-bit and invalid UTF-8 bytes, a bare CR, and lines that need dot-stuffing. */
function testMessage(messageId: string, lineEnding = '\r\n'): Buffer {
  const lines = [
    'From: Bob <bob@example.org>',
    'To: alice@example.org',
    `Message-ID: <${messageId}>`,
    'Subject: fixture test',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Caf\u00e9 cr\u00e8me \u2014 an 8-bit line',
    '.a line starting with a dot',
    '.',
    '..two dots',
    'a bare\rCR inside a line',
    'end',
  ];
  const text = Buffer.from(lines.join(lineEnding) + lineEnding, 'utf8');
  // A broken MIME line: bytes that are not UTF-8 at all.
  return Buffer.concat([text, Buffer.from([0xff, 0xfe, 0x80, 0x41]), Buffer.from(lineEnding)]);
}

async function deliver(target: LmtpTarget, to: string, messages: Buffer[]): Promise<void> {
  const client = new LmtpClient(target, { commandTimeoutMs: 10_000 });
  await client.connect();
  try {
    for (const message of messages) {
      const reply = await client.deliver({ from: FROM, to, message });
      expect(reply.code).toBe(250);
      expect(reply.enhanced).toBe('2.0.0');
    }
  } finally {
    await client.close();
  }
}

describe('private Redis and Dovecot (TLS on)', () => {
  let redis: RedisFixture | undefined;
  let dovecot: DovecotFixture;

  function imap(user: string, pass: string, extra: Partial<ImapFlowOptions> = {}): ImapFlow {
    return new ImapFlow({
      host: '127.0.0.1',
      port: dovecot.imapPort,
      secure: false,
      doSTARTTLS: false,
      auth: { user, pass },
      logger: false,
      connectionTimeout: 10_000,
      ...extra,
    });
  }

  /** Raw sources of the INBOX messages whose Message-ID is `messageId`, read as the master user. */
  async function sourcesInInbox(user: string, messageId: string): Promise<Buffer[]> {
    const client = imap(dovecot.masterLogin(user), dovecot.masterPassword);
    await client.connect();
    try {
      await client.mailboxOpen('INBOX', { readOnly: true });
      const all = await client.fetchAll('1:*', { uid: true, source: true, envelope: true });
      return all.filter((m) => m.envelope?.messageId === `<${messageId}>`).map((m) => m.source as Buffer);
    } finally {
      await client.logout();
    }
  }

  beforeAll(async () => {
    [redis, dovecot] = await Promise.all([startRedis(), startDovecot({ tls: true })]);
  });

  afterAll(async () => {
    // Stop both even if one fails, then report the failure.
    const results = await Promise.allSettled([redis?.stop(), dovecot?.stop()]);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  });

  it('Redis answers PING on its private port', async () => {
    const client = new Redis(redis!.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    try {
      expect(await client.ping()).toBe('PONG');
      expect(redis!.port).not.toBe(6379);
    } finally {
      client.disconnect();
    }
  });

  it('adds users at run time and Dovecot sees them', async () => {
    expect(await dovecot.userExists('carol')).toBe(false);
    const carol = await dovecot.addUser('carol');
    expect(carol.password).toMatch(/^[0-9a-f]{24}$/);
    expect(await dovecot.userExists('carol')).toBe(true);
    expect(dovecot.log()).toContain('starting up');
  });

  it('delivers over LMTP/TCP and reads the message back over IMAP byte for byte, exactly once', async () => {
    const { user } = await dovecot.addUser('alice');
    const message = testMessage('tcp-1@fixture.test');
    await deliver({ host: '127.0.0.1', port: dovecot.lmtpPort }, user, [message]);
    const sources = await sourcesInInbox(user, 'tcp-1@fixture.test');
    expect(sources).toHaveLength(1);
    // Dovecot always prepends Return-Path; the fixture turns its other trace headers off.
    const expected = Buffer.concat([Buffer.from(`Return-Path: <${FROM}>\r\n`), message]);
    expect(sources[0]?.toString('latin1')).toBe(expected.toString('latin1'));
  });

  it('delivers several messages over the LMTP unix socket on one connection; bare LF reads back as CRLF', async () => {
    const { user } = await dovecot.addUser('dave');
    const crlf = testMessage('sock-1@fixture.test');
    const bareLf = testMessage('sock-2@fixture.test', '\n');
    await deliver({ socket: dovecot.lmtpSocket }, user, [crlf, bareLf]);
    const returnPath = Buffer.from(`Return-Path: <${FROM}>\r\n`);
    const [first] = await sourcesInInbox(user, 'sock-1@fixture.test');
    expect(first?.toString('latin1')).toBe(Buffer.concat([returnPath, crlf]).toString('latin1'));
    const second = await sourcesInInbox(user, 'sock-2@fixture.test');
    expect(second).toHaveLength(1);
    // SMTP lines end in CRLF: the bare-LF copy is stored exactly like the CRLF one.
    expect(second[0]?.toString('latin1')).toBe(
      Buffer.concat([returnPath, testMessage('sock-2@fixture.test')]).toString('latin1'),
    );
  });

  it('refuses a recipient Dovecot does not know with a 5xx ProtocolError', async () => {
    const { user } = await dovecot.addUser('kate');
    const client = new LmtpClient({ socket: dovecot.lmtpSocket });
    await client.connect();
    try {
      expect((await client.checkRecipient(user)).code).toBe(250);
      expect(await client.checkRecipient('nobody')).toMatchObject({ code: 550, enhanced: '5.1.1' });
      await expect(
        client.deliver({ from: FROM, to: 'nobody', message: testMessage('x@y') }),
      ).rejects.toMatchObject({
        name: 'ProtocolError',
        code: 'EENVELOPE',
        responseCode: 550,
      });
    } finally {
      await client.close();
    }
  });

  it('has the special-use mailboxes with "/" as separator', async () => {
    const { user, password } = await dovecot.addUser('erin');
    const client = imap(user, password);
    await client.connect();
    try {
      const list = await client.list();
      // Only the flags Dovecot sends (SPECIAL-USE); imapflow guesses \Inbox by name itself.
      const special = Object.fromEntries(
        list.filter((m) => m.specialUseSource === 'extension').map((m) => [m.path, m.specialUse]),
      );
      expect(special).toEqual({ Junk: '\\Junk', Trash: '\\Trash', Sent: '\\Sent', Drafts: '\\Drafts' });
      expect(list.every((m) => m.delimiter === '/')).toBe(true);
    } finally {
      await client.logout();
    }
  });

  it('refuses a wrong password for the user and for the master user', async () => {
    const { user, password } = await dovecot.addUser('frank');
    for (const [login, pass] of [
      [user, `${password}x`],
      [dovecot.masterLogin(user), 'not-the-master-secret'],
    ] as const) {
      await expect(imap(login, pass).connect()).rejects.toMatchObject({ authenticationFailed: true });
    }
    const ok = imap(user, password);
    await ok.connect();
    expect(ok.authenticated).toBeTruthy();
    await ok.logout();
  });

  it('logs in over POP3 and counts the delivered messages; UIDLs follow pop3_uidl_format', async () => {
    const { user, password } = await dovecot.addUser('grace');
    const messages = [testMessage('pop-1@fixture.test'), testMessage('pop-2@fixture.test')];
    await deliver({ host: '127.0.0.1', port: dovecot.lmtpPort }, user, messages);
    const pop = await Pop3Session.open(net.connect({ host: '127.0.0.1', port: dovecot.pop3Port }));
    expect(pop.greeting).toMatch(/^\+OK/);
    expect(await pop.command(`USER ${user}`)).toMatch(/^\+OK/);
    expect(await pop.command(`PASS ${password}`)).toMatch(/^\+OK/);
    // STAT counts octets with CRLF line endings: Return-Path line + the message, each.
    const size = messages.reduce((n, m) => n + m.length + `Return-Path: <${FROM}>\r\n`.length, 0);
    expect(await pop.command('STAT')).toBe(`+OK 2 ${size}`);
    // %08Xu%08Xv: the IMAP UID then UIDVALIDITY, 8 hex digits each (Dovecot writes lower case).
    const imapClient = imap(dovecot.masterLogin(user), dovecot.masterPassword);
    await imapClient.connect();
    const inbox = await imapClient.mailboxOpen('INBOX', { readOnly: true });
    const [firstMessage] = await imapClient.fetchAll('1', { uid: true });
    await imapClient.logout();
    const hex8 = (n: number | bigint): string => n.toString(16).padStart(8, '0');
    expect(await pop.command('UIDL 1')).toBe(`+OK 1 ${hex8(firstMessage!.uid)}${hex8(inbox.uidValidity)}`);
    expect(await pop.command('QUIT')).toMatch(/^\+OK/);
    pop.close();
    const bad = await Pop3Session.open(net.connect({ host: '127.0.0.1', port: dovecot.pop3Port }));
    await bad.command(`USER ${user}`);
    expect(await bad.command('PASS wrong')).toMatch(/^-ERR/);
    bad.close();
  });

  it('offers STARTTLS: accepted with verification off, a certificate error with it on', async () => {
    const { user, password } = await dovecot.addUser('heidi');
    const insecure = imap(user, password, { doSTARTTLS: true, tls: { rejectUnauthorized: false } });
    await insecure.connect();
    expect(insecure.secureConnection).toBe(true);
    await insecure.logout();
    const strict = imap(user, password, { doSTARTTLS: true, tls: { rejectUnauthorized: true } });
    await expect(strict.connect()).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    strict.close();
  });

  it('serves implicit TLS on imaps and pop3s with the fixture certificate', async () => {
    for (const [port, greeting] of [
      [dovecot.imapsPort!, /^\* OK/],
      [dovecot.pop3sPort!, /^\+OK/],
    ] as const) {
      expect(await tlsGreeting({ port, rejectUnauthorized: false })).toMatch(greeting);
      await expect(tlsGreeting({ port, rejectUnauthorized: true })).rejects.toMatchObject({
        code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
      });
      // Trusting the fixture's own certificate makes verification pass.
      expect(await tlsGreeting({ port, ca: dovecot.certPem!, servername: 'localhost' })).toMatch(greeting);
    }
  });
});

describe('private Dovecot with "." as separator (Maildir++)', () => {
  let dovecot: DovecotFixture;
  beforeAll(async () => {
    dovecot = await startDovecot({ separator: '.' });
  });
  afterAll(async () => {
    await dovecot?.stop();
  });

  it('creates nested folders with "." and still delivers to INBOX', async () => {
    expect(dovecot.imapsPort).toBeUndefined();
    expect(dovecot.certPem).toBeUndefined();
    const { user, password } = await dovecot.addUser('ivan');
    await deliver({ socket: dovecot.lmtpSocket }, user, [testMessage('dot-1@fixture.test')]);
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: dovecot.imapPort,
      secure: false,
      doSTARTTLS: false,
      auth: { user, pass: password },
      logger: false,
    });
    await client.connect();
    try {
      await client.mailboxCreate(['Archive', '2024']);
      const list = await client.list();
      expect(list.map((m) => m.path)).toContain('Archive.2024');
      expect(list.every((m) => m.delimiter === '.')).toBe(true);
      expect(list.find((m) => m.specialUse === '\\Junk')?.path).toBe('Junk');
      const status = await client.status('INBOX', { messages: true });
      expect(status && status.messages).toBe(1);
    } finally {
      await client.logout();
    }
  });
});

/** Connects with implicit TLS and resolves with the server's first line. */
function tlsGreeting(opts: tls.ConnectionOptions & { port: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', ...opts });
    socket.setTimeout(5000, () => socket.destroy(new Error('no TLS greeting in 5 s')));
    socket.once('error', reject);
    socket.once('data', (d: Buffer) => {
      resolve(d.toString('latin1').split('\r\n')[0] ?? '');
      socket.end();
    });
  });
}

/** A minimal POP3 session (RFC 1939) over a raw socket: single-line commands only. */
class Pop3Session {
  private buffered = '';
  private waiting: ((line: string) => void) | undefined;
  greeting = '';

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buffered += d;
      this.flush();
    });
  }

  static async open(socket: net.Socket): Promise<Pop3Session> {
    const session = new Pop3Session(socket);
    session.greeting = await session.nextLine();
    return session;
  }

  command(line: string): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return this.nextLine();
  }

  close(): void {
    this.socket.destroy();
  }

  private nextLine(): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('POP3: no reply in 5 s')), 5000);
      this.waiting = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
      this.flush(); // the reply may already be here
    });
  }

  private flush(): void {
    const end = this.buffered.indexOf('\r\n');
    const waiting = this.waiting;
    if (end < 0 || !waiting) return;
    this.waiting = undefined;
    const line = this.buffered.slice(0, end);
    this.buffered = this.buffered.slice(end + 2);
    waiting(line);
  }
}
