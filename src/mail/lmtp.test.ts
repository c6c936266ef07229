import net from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ProtocolError } from '../core/errors.js';
import { DataEncoder, LmtpClient } from './lmtp.js';

const CR = 0x0d;
const LF = 0x0a;

/** The DATA rules of RFC 5321 4.5.2 applied one byte at a time: the obviously-right version. */
function encodeByteByByte(input: Buffer): Buffer {
  const out: number[] = [];
  let lineStart = true;
  let prev = -1;
  for (const b of input) {
    if (b === LF) {
      if (prev !== CR) out.push(CR);
      out.push(LF);
      lineStart = true;
    } else {
      if (lineStart && b === 0x2e) out.push(0x2e);
      out.push(b);
      lineStart = false;
    }
    prev = b;
  }
  if (!lineStart) out.push(...(prev === CR ? [LF] : [CR, LF]));
  return Buffer.concat([Buffer.from(out), Buffer.from('.\r\n')]);
}

function encodeInChunks(input: Buffer, cuts: number[]): Buffer {
  const encoder = new DataEncoder();
  const parts: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts, input.length]) {
    parts.push(encoder.encode(input.subarray(from, cut)));
    from = cut;
  }
  parts.push(encoder.end());
  return Buffer.concat(parts);
}

describe('DataEncoder', () => {
  const cases: Array<[string, string, string]> = [
    ['CRLF lines pass unchanged', 'a: b\r\n\r\nbody\r\n', 'a: b\r\n\r\nbody\r\n.\r\n'],
    ['bare LF becomes CRLF', 'a\nb\n', 'a\r\nb\r\n.\r\n'],
    ['a missing final line ending is added', 'a\r\nb', 'a\r\nb\r\n.\r\n'],
    ['a leading dot is doubled', '.hidden\r\n', '..hidden\r\n.\r\n'],
    ['a dot after LF is doubled', 'a\n.\nb', 'a\r\n..\r\nb\r\n.\r\n'],
    ['a dot inside a line is kept', 'a.b .c\r\n', 'a.b .c\r\n.\r\n'],
    ['a bare CR is kept and does not start a line', 'a\r.b\r\n', 'a\r.b\r\n.\r\n'],
    ['CR CR LF keeps the first CR', 'a\r\r\n', 'a\r\r\n.\r\n'],
    ['a trailing bare CR ends the last line', 'a\r', 'a\r\n.\r\n'],
    ['an empty message is just the terminator', '', '.\r\n'],
    ['empty lines from bare LFs', '\n\n', '\r\n\r\n.\r\n'],
  ];
  it.each(cases)('%s', (_name, input, expected) => {
    expect(encodeInChunks(Buffer.from(input, 'latin1'), []).toString('latin1')).toBe(expected);
  });

  it('keeps 8-bit and invalid UTF-8 bytes exactly', () => {
    const input = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, CR, LF, 0x2e, 0xe9, LF]);
    const expected = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, CR, LF, 0x2e, 0x2e, 0xe9, CR, LF]);
    expect(encodeInChunks(input, [])).toEqual(Buffer.concat([expected, Buffer.from('.\r\n')]));
  });

  it('gives the same bytes for every way of splitting a message into two or three chunks', () => {
    const input = Buffer.from('.a\r\n.\r\nb\r\r\n\n.c\rd\n\r.', 'latin1');
    const whole = encodeByteByByte(input);
    for (let i = 0; i <= input.length; i++) {
      expect(encodeInChunks(input, [i])).toEqual(whole);
      for (let j = i; j <= input.length; j++) expect(encodeInChunks(input, [i, j])).toEqual(whole);
    }
  });

  it('matches the byte-by-byte rules on random messages and random chunkings', () => {
    const alphabet = [CR, LF, 0x2e, 0x61, 0xff];
    let seed = 42;
    const random = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let round = 0; round < 500; round++) {
      const input = Buffer.from(
        Array.from({ length: random(40) }, () => alphabet[random(alphabet.length)] ?? 0),
      );
      const cuts = Array.from({ length: random(5) }, () => random(input.length + 1)).sort((a, b) => a - b);
      expect(encodeInChunks(input, cuts)).toEqual(encodeByteByByte(input));
    }
  });
});

/**
 * A scripted LMTP server recording commands and message data. `reply(verb)` overrides an
 * answer (verbs: 'greeting', LHLO, MAIL, ..., '.' for the end of DATA): a string is sent,
 * null means stay silent, undefined means the default answer.
 */
interface FakeServer {
  port: number;
  commands: string[];
  messages: Buffer[];
  /** Sessions open now. */
  open(): number;
  close(): Promise<void>;
}

const LHLO_REPLY = '250-fake.test\r\n250-8BITMIME\r\n250-SIZE 10000000\r\n250 ENHANCEDSTATUSCODES';
const PIPELINING_LHLO = LHLO_REPLY.replace('250 ENHANCED', '250-ENHANCED') + '\r\n250 PIPELINING';
const DEFAULT_REPLIES: Record<string, string> = {
  LHLO: LHLO_REPLY,
  MAIL: '250 2.1.0 OK',
  RCPT: '250 2.1.5 OK',
  DATA: '354 OK',
  '.': '250 2.0.0 <alice> Saved',
  RSET: '250 2.0.0 OK',
  QUIT: '221 2.0.0 Bye',
};

const servers: FakeServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

type Script = (verb: string) => string | null | undefined;

async function fakeServer(script: Script = () => undefined): Promise<FakeServer> {
  const commands: string[] = [];
  const messages: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const reply = (verb: string): string | null => {
    const text = script(verb);
    return text === undefined ? (DEFAULT_REPLIES[verb] ?? '500 5.5.1 Unknown command') : text;
  };
  const answer = (socket: net.Socket, verb: string): string | null => {
    const text = reply(verb);
    if (text !== null) socket.write(`${text}\r\n`);
    if (verb === 'QUIT') socket.end();
    return text;
  };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buf = Buffer.alloc(0);
    let inData = false;
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (inData) {
          const end = buf.subarray(0, 3).toString() === '.\r\n' ? 0 : buf.indexOf('\r\n.\r\n');
          if (end < 0) return;
          messages.push(buf.subarray(0, end === 0 ? 0 : end + 2));
          buf = buf.subarray(end === 0 ? 3 : end + 5);
          inData = false;
          answer(socket, '.');
          continue;
        }
        const lf = buf.indexOf('\r\n');
        if (lf < 0) return;
        const line = buf.subarray(0, lf).toString();
        buf = buf.subarray(lf + 2);
        commands.push(line);
        const verb = line.split(' ')[0] ?? '';
        if (answer(socket, verb)?.startsWith('354')) inData = true;
      }
    });
    const greeting = script('greeting');
    if (greeting !== null) socket.write(`${greeting ?? '220 fake.test LMTP ready'}\r\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  const fake: FakeServer = {
    port: address.port,
    commands,
    messages,
    open: () => sockets.size,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  servers.push(fake);
  return fake;
}

async function caught(promise: Promise<unknown>): Promise<ProtocolError> {
  const err = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProtocolError);
  return err as ProtocolError;
}

describe('LmtpClient against a scripted server', () => {
  it('delivers with BODY=8BITMIME and SIZE, streams a Readable, and parses the reply', async () => {
    const server = await fakeServer();
    const client = new LmtpClient({ host: '127.0.0.1', port: server.port });
    await client.connect();
    expect([...client.extensions.keys()]).toEqual(['8BITMIME', 'SIZE', 'ENHANCEDSTATUSCODES']);
    const message = Buffer.from('Subject: x\r\n\r\n.dot\nend', 'latin1');
    const reply = await client.deliver({ from: 'bob@example.org', to: 'alice', message });
    expect(reply).toEqual({ code: 250, enhanced: '2.0.0', text: '<alice> Saved' });
    const stream = Readable.from([Buffer.from('a\r'), Buffer.from('\n.b\r\n')]);
    await client.deliver({ from: '', to: 'alice', message: stream, size: 7 });
    await client.close();
    expect(server.commands).toEqual([
      'LHLO localhost',
      `MAIL FROM:<bob@example.org> BODY=8BITMIME SIZE=${message.length}`,
      'RCPT TO:<alice>',
      'DATA',
      // no RSET: a transaction that ended with its reply after DATA leaves a clean session
      'MAIL FROM:<> BODY=8BITMIME SIZE=7',
      'RCPT TO:<alice>',
      'DATA',
      'QUIT',
    ]);
    expect(server.messages.map((m) => m.toString('latin1'))).toEqual([
      'Subject: x\r\n\r\n..dot\r\nend\r\n',
      'a\r\n..b\r\n',
    ]);
  });

  it('reports a 4xx RCPT refusal with its code, and the session stays usable', async () => {
    let refuse = true;
    const server = await fakeServer((verb) =>
      verb === 'RCPT' && refuse ? '450 4.2.1 <alice> Mailbox busy' : undefined,
    );
    const client = new LmtpClient({ host: '127.0.0.1', port: server.port });
    await client.connect();
    const err = await caught(client.deliver({ from: 'a@b', to: 'alice', message: Buffer.from('x\r\n') }));
    expect(err).toMatchObject({ code: 'EENVELOPE', responseCode: 450 });
    refuse = false;
    expect((await client.deliver({ from: 'a@b', to: 'alice', message: Buffer.from('x\r\n') })).code).toBe(
      250,
    );
    expect(server.commands).toContain('RSET');
    await client.close();
  });

  it('checkRecipient resolves with the RCPT reply, refusals included, and resets before the next delivery', async () => {
    const server = await fakeServer((verb) =>
      verb === 'RCPT' && server.commands.at(-1) === 'RCPT TO:<nobody>'
        ? "550 5.1.1 <nobody> User doesn't exist"
        : undefined,
    );
    const client = new LmtpClient({ host: '127.0.0.1', port: server.port });
    await client.connect();
    expect(await client.checkRecipient('nobody')).toEqual({
      code: 550,
      enhanced: '5.1.1',
      text: "<nobody> User doesn't exist",
    });
    expect((await client.checkRecipient('alice')).code).toBe(250);
    expect((await client.deliver({ from: 'a@b', to: 'alice', message: Buffer.from('x\r\n') })).code).toBe(
      250,
    );
    await client.close();
    expect(server.commands.slice(1, 7)).toEqual([
      'MAIL FROM:<>',
      'RCPT TO:<nobody>',
      'RSET',
      'MAIL FROM:<>',
      'RCPT TO:<alice>',
      'RSET',
    ]);
  });

  it('reports a 5xx reply after DATA as EMESSAGE with the response code', async () => {
    const server = await fakeServer((verb) => (verb === '.' ? '552 5.2.2 Quota exceeded' : undefined));
    const client = new LmtpClient({ host: '127.0.0.1', port: server.port });
    await client.connect();
    const err = await caught(client.deliver({ from: 'a@b', to: 'alice', message: Buffer.from('x') }));
    expect(err).toMatchObject({ code: 'EMESSAGE', responseCode: 552 });
    expect(err.message).toContain('5.2.2 Quota exceeded');
    await client.close();
  });

  it('refuses an address with CR/LF before sending anything', async () => {
    const server = await fakeServer();
    const client = new LmtpClient({ host: '127.0.0.1', port: server.port });
    await client.connect();
    const from = 'x>\r\nRCPT TO:<root';
    const err = await caught(client.deliver({ from, to: 'alice', message: Buffer.from('x') }));
    expect(err.code).toBe('EENVELOPE');
    expect(err.responseCode).toBeUndefined();
    expect(server.commands).toEqual(['LHLO localhost']);
    await client.close();
  });

  it('sends a quoted local part as it is, and refuses a sender that is not a wire-form mailbox', async () => {
    const server = await fakeServer();
    const client = new LmtpClient({ host: '127.0.0.1', port: server.port });
    await client.connect();
    const from = '"john smith"@example.com';
    expect((await client.deliver({ from, to: 'alice', message: Buffer.from('x\r\n') })).code).toBe(250);
    expect(server.commands.find((c) => c.startsWith('MAIL'))).toMatch(
      /^MAIL FROM:<"john smith"@example\.com> /,
    );
    const sent = server.commands.length;
    for (const bad of ['john smith@example.com', 'b\u00e9b@example.com', 'bob', 'a@b>', 'a@b\u0007']) {
      const err = await caught(client.deliver({ from: bad, to: 'alice', message: Buffer.from('x') }));
      expect(err).toMatchObject({
        code: 'EENVELOPE',
        message: `invalid sender address ${JSON.stringify(bad)}`,
      });
    }
    expect(server.commands).toHaveLength(sent);
    await client.close();
  });

  it('times out a silent greeting and a silent command with ETIMEOUT', async () => {
    const silent = await fakeServer((verb) => (verb === 'greeting' ? null : undefined));
    const c1 = new LmtpClient({ host: '127.0.0.1', port: silent.port }, { connectTimeoutMs: 150 });
    expect((await caught(c1.connect())).code).toBe('ETIMEOUT');

    const stuck = await fakeServer((verb) => (verb === 'MAIL' ? null : undefined));
    const c2 = new LmtpClient({ host: '127.0.0.1', port: stuck.port }, { commandTimeoutMs: 150 });
    await c2.connect();
    expect((await caught(c2.deliver({ from: 'a@b', to: 'c', message: Buffer.from('x') }))).code).toBe(
      'ETIMEOUT',
    );
    // The session is gone after a timeout; later calls say so instead of hanging.
    expect((await caught(c2.deliver({ from: 'a@b', to: 'c', message: Buffer.from('x') }))).code).toBe(
      'ETIMEOUT',
    );
  });

  it('with PIPELINING, sends MAIL, RCPT and DATA in one write and the message after 354', async () => {
    const server = await fakeServer((verb) => (verb === 'LHLO' ? PIPELINING_LHLO : undefined));
    const writes: string[] = [];
    const client = new LmtpClient({ host: '127.0.0.1', port: server.port });
    await client.connect();
    expect(client.extensions.has('PIPELINING')).toBe(true);
    const socket = (client as unknown as { socket: net.Socket }).socket;
    const write = socket.write.bind(socket) as (data: string | Uint8Array) => boolean;
    socket.write = ((data: string | Uint8Array) => {
      writes.push(Buffer.from(data).toString('latin1'));
      return write(data);
    }) as typeof socket.write;
    const big = Buffer.from(`Subject: big\r\n\r\n${'.line of text, dot first\n'.repeat(40_000)}`, 'latin1');
    for (const message of [Buffer.from('Subject: a\r\n\r\nbody\r\n'), big]) {
      expect((await client.deliver({ from: 'a@b', to: 'alice', message })).code).toBe(250);
    }
    await client.close();
    expect(writes[0]).toBe(`MAIL FROM:<a@b> BODY=8BITMIME SIZE=20\r\nRCPT TO:<alice>\r\nDATA\r\n`);
    expect(writes.slice(1, 3).join('')).toBe('Subject: a\r\n\r\nbody\r\n.\r\n'); // corked: one writev
    // .equals: a deep equality over a megabyte of Buffer elements takes seconds
    expect(server.messages[1]!.equals(encodeByteByByte(big).subarray(0, -3))).toBe(true);
    expect(server.commands).not.toContain('RSET');
  });

  it('with PIPELINING, a refused RCPT throws its code, and the next transaction starts with RSET', async () => {
    let refuse = true;
    const server = await fakeServer((verb) => {
      if (verb === 'LHLO') return PIPELINING_LHLO;
      if (verb === 'RCPT' && refuse) return "550 5.1.1 <alice> User doesn't exist";
      if (verb === 'DATA' && refuse) return '554 5.5.1 No valid recipients';
      return undefined;
    });
    const client = new LmtpClient({ host: '127.0.0.1', port: server.port });
    await client.connect();
    const err = await caught(client.deliver({ from: 'a@b', to: 'alice', message: Buffer.from('x\r\n') }));
    expect(err).toMatchObject({ code: 'EENVELOPE', responseCode: 550 });
    refuse = false;
    expect((await client.deliver({ from: 'a@b', to: 'alice', message: Buffer.from('x\r\n') })).code).toBe(
      250,
    );
    await client.close();
    expect(server.commands.slice(1, -1)).toEqual([
      'MAIL FROM:<a@b> BODY=8BITMIME SIZE=3',
      'RCPT TO:<alice>',
      'DATA',
      'RSET',
      'MAIL FROM:<a@b> BODY=8BITMIME SIZE=3',
      'RCPT TO:<alice>',
      'DATA',
    ]);
    expect(server.messages).toHaveLength(1);
  });

  it('with PIPELINING, a 354 after a refused RCPT drops the session instead of sending the message', async () => {
    const server = await fakeServer((verb) => {
      if (verb === 'LHLO') return PIPELINING_LHLO;
      if (verb === 'RCPT') return '451 4.3.0 Try later';
      return undefined;
    });
    const client = new LmtpClient({ host: '127.0.0.1', port: server.port });
    await client.connect();
    const err = await caught(client.deliver({ from: 'a@b', to: 'alice', message: Buffer.from('x\r\n') }));
    expect(err).toMatchObject({ code: 'EENVELOPE', responseCode: 451 });
    // Once the session is gone, nothing more of it can come.
    await expect.poll(() => server.open()).toBe(0);
    expect(server.messages).toHaveLength(0);
    expect(
      (await caught(client.deliver({ from: 'a@b', to: 'alice', message: Buffer.from('x\r\n') }))).code,
    ).toBe('EENVELOPE');
  });

  it('reports a refused connection as ECONNECTION', async () => {
    const server = await fakeServer();
    const port = server.port;
    await server.close();
    const client = new LmtpClient({ host: '127.0.0.1', port });
    expect((await caught(client.connect())).code).toBe('ECONNECTION');
  });
});
