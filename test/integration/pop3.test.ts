/**
 * The POP3 client against a private Dovecot (TLS on): messages delivered over LMTP read back
 * byte for byte in every security mode, deletions committed only by QUIT, and the failures
 * a getmail run must classify (wrong password, untrusted certificate, no STLS, timeouts,
 * dropped connections). Small fake servers play the misbehaving remote ends.
 */
import net from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, ProtocolError } from '../../src/core/errors.js';
import { LmtpClient } from '../../src/mail/lmtp.js';
import { type Pop3ConnectOptions, Pop3Client } from '../../src/mail/pop3.js';
import { MessageSpool } from '../../src/mail/spool.js';
import { type DovecotFixture, startDovecot } from '../fixtures/dovecot.js';

const FROM = 'sender@example.org';
/** Dovecot prepends this to every delivered message; the fixture turns other trace headers off. */
const RETURN_PATH = Buffer.from(`Return-Path: <${FROM}>\r\n`);
const bin = (s: string): Buffer => Buffer.from(s, 'latin1');

function headers(id: string, more: string[] = []): string {
  return [
    `From: <${FROM}>`,
    'To: <user@example.org>',
    `Message-ID: <${id}@pop3.test>`,
    `Subject: ${id}`,
    ...more,
    '',
  ]
    .map((l) => `${l}\r\n`)
    .join('');
}

const MESSAGES = {
  plain: bin(`${headers('plain')}\r\nJust text.\r\n`),
  eightBit: Buffer.concat([
    Buffer.from(
      `${headers('8bit', ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit'])}\r\n`,
    ),
    Buffer.from('Café crème — ünïcödé\r\n', 'utf8'),
    Buffer.from([0xff, 0xfe, 0x80, 0x41, 0x0d, 0x0a]), // not UTF-8 at all
  ]),
  dots: bin(`${headers('dots')}\r\n.leading dot\r\n.\r\n..two dots\r\n...\r\n. \r\nend\r\n`),
  large: Buffer.concat([
    bin(`${headers('large')}\r\n`),
    ...Array.from({ length: 40_000 }, (_, i) =>
      i % 997 === 0
        ? bin(`.${'d'.repeat(74)}\r\n`)
        : bin(`${String(i).padStart(8, '0')}${'\xe9x'.repeat(34)}\r\n`),
    ),
  ]),
};
/** What Dovecot stores (and POP3 serves, with CRLF line endings) for each message. */
const STORED = Object.values(MESSAGES).map((m) => Buffer.concat([RETURN_PATH, m]));

async function deliver(dovecot: DovecotFixture, to: string, messages: Buffer[]): Promise<void> {
  const lmtp = new LmtpClient({ socket: dovecot.lmtpSocket });
  await lmtp.connect();
  try {
    for (const message of messages) await lmtp.deliver({ from: FROM, to, message });
  } finally {
    await lmtp.close();
  }
}

async function contents(spool: MessageSpool): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of spool.stream()) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** TCP/TLS handles still open after a test, once given time to close (a destroyed socket closes a few ticks later). */
async function openSockets(): Promise<string[]> {
  const open = (): string[] =>
    process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TLSWrap');
  await expect.poll(open, { timeout: 10_000, interval: 10 }).toEqual([]);
  return open();
}

/** A one-off POP3 "server" on 127.0.0.1 whose behaviour the test scripts. */
async function fakeServer(
  onConnection: (socket: net.Socket) => void,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Answers each command line with the next scripted reply (a string or a function of the socket). */
function scripted(replies: Array<string | ((socket: net.Socket) => void)>): (socket: net.Socket) => void {
  return (socket) => {
    const queue = [...replies];
    const answer = (): void => {
      const next = queue.shift();
      if (typeof next === 'string') socket.write(next);
      else next?.(socket);
    };
    answer(); // greeting
    let buffered = '';
    socket.on('data', (d: Buffer) => {
      buffered += d.toString('latin1');
      for (let i; (i = buffered.indexOf('\r\n')) !== -1; buffered = buffered.slice(i + 2)) answer();
    });
  };
}

describe('Pop3Client against a private Dovecot (TLS on)', () => {
  let dovecot: DovecotFixture;
  let users = 0;

  const options = (security: Pop3ConnectOptions['security'], extra: Partial<Pop3ConnectOptions> = {}) => ({
    host: '127.0.0.1',
    port: security === 'tls' ? dovecot.pop3sPort! : dovecot.pop3Port,
    security,
    verifyCertificate: false,
    connectTimeoutMs: 10_000,
    commandTimeoutMs: 10_000,
    ...extra,
  });

  async function session(
    security: Pop3ConnectOptions['security'],
    user: string,
    password: string,
  ): Promise<Pop3Client> {
    const pop = await Pop3Client.connect(options(security));
    await pop.login(user, password);
    return pop;
  }

  /** A fresh mailbox user holding `messages`. */
  async function mailbox(messages: Buffer[]): Promise<{ user: string; password: string }> {
    const account = await dovecot.addUser(`pop${++users}`);
    await deliver(dovecot, account.user, messages);
    return account;
  }

  beforeAll(async () => {
    dovecot = await startDovecot({ tls: true });
  });

  afterAll(async () => {
    await dovecot?.stop();
  });

  afterEach(async () => {
    expect(await openSockets()).toEqual([]);
  });

  describe.each(['none', 'starttls', 'tls'] as const)('security %s', (security) => {
    it('lists and retrieves the stored bytes; DELE needs QUIT, close() keeps the message', async () => {
      const { user, password } = await mailbox(Object.values(MESSAGES));
      const pop = await session(security, user, password);
      expect(pop.secure).toBe(security !== 'none');
      const uidl = await pop.uidl();
      expect([...uidl.keys()]).toEqual([1, 2, 3, 4]);
      expect(new Set(uidl.values()).size).toBe(4);
      expect(await pop.list()).toEqual(new Map(STORED.map((m, i) => [i + 1, m.length])));
      expect(await pop.stat()).toEqual({ count: 4, size: STORED.reduce((n, m) => n + m.length, 0) });
      for (const [i, stored] of STORED.entries()) {
        const spool = new MessageSpool();
        await pop.retrieve(i + 1, spool);
        expect((await contents(spool)).equals(stored), `message ${i + 1}`).toBe(true);
        expect(spool.spilled).toBe(stored.length > 1024 * 1024);
        await spool.dispose();
      }
      // Marked deleted, but no QUIT: nothing is committed.
      await pop.delete(1);
      pop.close();

      const again = await session(security, user, password);
      expect(await again.uidl()).toEqual(uidl);
      await again.delete(2);
      await again.quit();

      const after = await session(security, user, password);
      const remaining = await after.uidl();
      expect([...remaining.values()]).toEqual([uidl.get(1), uidl.get(3), uidl.get(4)]);
      await after.quit();
    });
  });

  it('pipelines RETR: retrieveMany hands over every message once, in order', async () => {
    const many = Array.from({ length: 60 }, (_, i) =>
      bin(`${headers(`many-${i}`)}\r\n${'.'.repeat(i % 3)}body ${i}\r\n`),
    );
    const { user, password } = await mailbox([...many, MESSAGES.large]);
    const pop = await session('none', user, password);
    expect(pop.capabilities.has('PIPELINING')).toBe(true);
    const seen: number[] = [];
    await pop.retrieveMany(
      [...(await pop.list()).keys()],
      async (msgNo, spool) => {
        seen.push(msgNo);
        const expected = Buffer.concat([RETURN_PATH, many[msgNo - 1] ?? MESSAGES.large]);
        expect((await contents(spool)).equals(expected), `message ${msgNo}`).toBe(true);
        await spool.dispose();
      },
      { window: 8 },
    );
    expect(seen).toEqual(Array.from({ length: 61 }, (_, i) => i + 1));
    await pop.quit();
  });

  it('retrieveMany stops at a failed RETR, drains what it sent, and leaves the session usable', async () => {
    const { user, password } = await mailbox([MESSAGES.plain, MESSAGES.dots, MESSAGES.eightBit]);
    const pop = await session('tls', user, password);
    const seen: number[] = [];
    const created: MessageSpool[] = [];
    const failure = pop
      .retrieveMany(
        [1, 99, 2, 3],
        async (msgNo, spool) => {
          seen.push(msgNo);
          await spool.dispose();
        },
        { createSpool: () => created[created.push(new MessageSpool()) - 1]! },
      )
      .catch((e: unknown) => e);
    expect(await failure).toMatchObject({ code: 'EPROTOCOL', message: /RETR 99 refused/ });
    expect(seen).toEqual([1]);
    expect(created).toHaveLength(4);
    expect(await pop.stat()).toMatchObject({ count: 3 });
    await pop.quit();
  });

  it('answers -ERR for a missing message with EPROTOCOL and keeps the session usable', async () => {
    const { user, password } = await mailbox([MESSAGES.plain]);
    const pop = await session('none', user, password);
    const spool = new MessageSpool();
    await expect(pop.retrieve(9, spool)).rejects.toMatchObject({ name: 'ProtocolError', code: 'EPROTOCOL' });
    expect(spool.size).toBe(0);
    await expect(pop.delete(9)).rejects.toMatchObject({ code: 'EPROTOCOL', message: /DELE 9 refused: -ERR/ });
    expect(await pop.stat()).toMatchObject({ count: 1 });
    await pop.quit();
  });

  it('refuses a wrong password with an AuthenticationError naming the user and host, not the password', async () => {
    const { user } = await dovecot.addUser(`pop${++users}`);
    const pop = await Pop3Client.connect(options('starttls'));
    const err = await pop.login(user, 'wrong-secret-123').catch((e: unknown) => e);
    pop.close();
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as Error).message).toContain(user);
    expect((err as Error).message).toContain('127.0.0.1');
    expect((err as Error).message).toMatch(/Authentication failed/);
    expect((err as Error).message).not.toContain('wrong-secret-123');
  });

  it.each(['tls', 'starttls'] as const)(
    '%s with verification on: ETLS naming the certificate problem',
    async (security) => {
      const err = await Pop3Client.connect(options(security, { verifyCertificate: true })).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ProtocolError);
      expect(err).toMatchObject({
        code: 'ETLS',
        message: expect.stringMatching(/127\.0\.0\.1.*certificate.*self-signed/),
      });
    },
  );

  it.each(['tls', 'starttls'] as const)('%s with verification on trusts the fixture CA', async (security) => {
    const pop = await Pop3Client.connect(
      options(security, { host: 'localhost', verifyCertificate: true, ca: dovecot.certPem! }),
    );
    expect(pop.secure).toBe(true);
    expect(pop.capabilities.has('STLS')).toBe(false); // asked again over TLS (RFC 2595)
    await pop.quit();
  });

  it('refuses starttls when the server does not offer STLS', async () => {
    const plainOnly = await startDovecot();
    try {
      const err = await Pop3Client.connect({ ...options('starttls'), port: plainOnly.pop3Port }).catch(
        (e) => e,
      );
      expect(err).toMatchObject({ name: 'ProtocolError', code: 'ETLS', message: /does not offer STLS/ });
    } finally {
      await plainOnly.stop();
    }
  });
});

describe('Pop3Client against misbehaving servers', () => {
  const servers: Array<{ close(): Promise<void> }> = [];
  const serve = async (onConnection: (socket: net.Socket) => void): Promise<number> => {
    const server = await fakeServer(onConnection);
    servers.push(server);
    return server.port;
  };
  const connect = (port: number, extra: Partial<Pop3ConnectOptions> = {}) =>
    Pop3Client.connect({
      host: '127.0.0.1',
      port,
      security: 'none',
      verifyCertificate: true,
      connectTimeoutMs: 2000,
      commandTimeoutMs: 2000,
      ...extra,
    });
  const CAPA = '+OK\r\nUSER\r\nUIDL\r\n.\r\n';

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
    expect(await openSockets()).toEqual([]);
  });

  it('times out with ETIMEOUT when the server goes silent', async () => {
    const port = await serve(scripted(['+OK hi\r\n', CAPA /* then nothing */]));
    const pop = await connect(port, { commandTimeoutMs: 200 });
    await expect(pop.stat()).rejects.toMatchObject({ code: 'ETIMEOUT', message: /STAT within 200 ms/ });
    await expect(pop.stat()).rejects.toMatchObject({ code: 'ETIMEOUT' }); // the session is over
  });

  it('times out the whole connect with ETIMEOUT when no greeting comes', async () => {
    const port = await serve(() => undefined);
    await expect(connect(port, { connectTimeoutMs: 200 })).rejects.toMatchObject({ code: 'ETIMEOUT' });
  });

  it('reports a connection dropped in the middle of RETR as ECONNECTION', async () => {
    const port = await serve(
      scripted(['+OK hi\r\n', CAPA, (s) => s.end('+OK 100 octets\r\nSubject: half\r\n')]),
    );
    const pop = await connect(port);
    await expect(pop.retrieve(1, new MessageSpool())).rejects.toMatchObject({ code: 'ECONNECTION' });
  });

  it('sends pipelined RETRs before reading responses, and reads each only after the previous onMessage', async () => {
    const commands: string[] = [];
    let answered!: () => void;
    /** Resolves once the three answers are written: on loopback they wait in the client's socket. */
    const allSent = new Promise<void>((resolve) => (answered = resolve));
    const port = await serve((socket) => {
      socket.write('+OK hi\r\n');
      let buffered = '';
      socket.on('data', (d: Buffer) => {
        buffered += d.toString('latin1');
        for (let i; (i = buffered.indexOf('\r\n')) !== -1; buffered = buffered.slice(i + 2)) {
          const line = buffered.slice(0, i);
          commands.push(line);
          if (line === 'CAPA') socket.write('+OK\r\nPIPELINING\r\n.\r\n');
          // Answer only once all three RETRs are in: a client that waits for each reply would hang.
          if (commands.filter((c) => c.startsWith('RETR')).length === 3 && line.startsWith('RETR')) {
            socket.write('+OK\r\none\r\n.\r\n+OK\r\n..two\r\n.\r\n+OK\r\nthree\r\n.\r\n', () => answered());
          }
          if (line === 'QUIT') socket.end('+OK bye\r\n');
        }
      });
    });
    const pop = await connect(port);
    const got: string[] = [];
    const spools: MessageSpool[] = [];
    await pop.retrieveMany(
      [1, 2, 3],
      async (msgNo, spool) => {
        got.push(spool.buffer()!.toString('latin1'));
        // All three responses have arrived, but the next spools are not filled yet.
        expect(spools.slice(msgNo).map((s) => s.size)).toEqual(Array(3 - msgNo).fill(0));
        // Every byte is there to read: a client reading ahead would do so in the next turns.
        await allSent;
        for (let turn = 0; turn < 3; turn++) await nextTurn();
        await spool.dispose();
      },
      { window: 3, createSpool: () => spools[spools.push(new MessageSpool()) - 1]! },
    );
    expect(got).toEqual(['one\r\n', '.two\r\n', 'three\r\n']);
    await pop.quit();
    expect(commands).toEqual(['CAPA', 'RETR 1', 'RETR 2', 'RETR 3', 'QUIT']);
  });

  it('reports a refused connection as ECONNECTION', async () => {
    const port = await serve(() => undefined);
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await expect(connect(port)).rejects.toMatchObject({ code: 'ECONNECTION' });
  });

  it('refuses STLS that the server does not list, and data injected before the handshake', async () => {
    const noStls = await serve(scripted(['+OK hi\r\n', CAPA]));
    await expect(connect(noStls, { security: 'starttls' })).rejects.toMatchObject({ code: 'ETLS' });
    const injected = await serve(
      scripted(['+OK hi\r\n', '+OK\r\nSTLS\r\n.\r\n', '+OK go ahead\r\n+OK injected\r\n']),
    );
    await expect(connect(injected, { security: 'starttls' })).rejects.toMatchObject({
      code: 'ETLS',
      message: /sent data after STLS/,
    });
  });

  it('treats [IN-USE] on PASS as temporary (EPROTOCOL), not as a wrong password', async () => {
    const port = await serve(
      scripted(['+OK hi\r\n', CAPA, '+OK\r\n', '-ERR [IN-USE] Mailbox is locked\r\n']),
    );
    const pop = await connect(port);
    await expect(pop.login('alice', 'pw')).rejects.toMatchObject({
      name: 'ProtocolError',
      code: 'EPROTOCOL',
    });
    pop.close();
  });

  it('closes the socket on abort; pending commands reject', async () => {
    const port = await serve(scripted(['+OK hi\r\n', CAPA]));
    const controller = new AbortController();
    const pop = await connect(port, { signal: controller.signal });
    const pending = pop.stat();
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'ECONNECTION', message: /aborted/ });
  });
});
