import net from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthenticationError } from '../core/errors.js';
import { ImapAppender, parseUidSet } from './imap-append.js';

/** A scripted IMAP server that understands literals (synchronizing and LITERAL+) and records commands. */
function fakeServer(opts: {
  caps: string;
  login?: 'ok' | 'no';
  /** Answer to one complete command: the tagged line (without tag), or `'+'`-time refusals. */
  answer(command: string, literals: Buffer[]): string;
  /** Refuse a synchronizing literal of more than this many bytes instead of sending "+". */
  maxSyncLiteral?: number;
}) {
  const commands: { line: string; literals: Buffer[] }[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.write(`* OK [CAPABILITY IMAP4rev1 ${opts.caps}] fake ready\r\n`);
    let buf = Buffer.alloc(0);
    let line = '';
    let literals: Buffer[] = [];
    let need = 0;
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (need > 0) {
          if (buf.length < need) return;
          literals.push(buf.subarray(0, need));
          buf = buf.subarray(need);
          need = 0;
          continue;
        }
        const end = buf.indexOf('\r\n');
        if (end < 0) return;
        const part = buf.subarray(0, end).toString();
        buf = buf.subarray(end + 2);
        line += part;
        const lit = /\{(\d+)(\+?)\}$/.exec(part);
        const tag = line.split(' ')[0]!;
        if (lit) {
          need = Number(lit[1]);
          if (!lit[2]) {
            if (opts.maxSyncLiteral !== undefined && need > opts.maxSyncLiteral) {
              socket.write(`${tag} NO [TOOBIG] message too big\r\n`);
              commands.push({ line, literals });
              line = '';
              literals = [];
              need = 0;
              continue;
            }
            socket.write('+ go ahead\r\n');
          }
          continue;
        }
        commands.push({ line, literals });
        if (/ AUTHENTICATE | LOGIN /i.test(line)) {
          socket.write(
            opts.login === 'no' ? `${tag} NO [AUTHENTICATIONFAILED] nope\r\n` : `${tag} OK logged in\r\n`,
          );
        } else if (/ CAPABILITY$/i.test(line)) {
          socket.write(`* CAPABILITY IMAP4rev1 ${opts.caps}\r\n${tag} OK done\r\n`);
        } else if (/ LOGOUT$/i.test(line)) {
          socket.end(`* BYE\r\n${tag} OK bye\r\n`);
        } else {
          socket.write(`${tag} ${opts.answer(line, literals)}\r\n`);
        }
        line = '';
        literals = [];
      }
    });
  });
  return {
    commands,
    async listen(): Promise<number> {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return (server.address() as net.AddressInfo).port;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

const where = (port: number) => ({
  host: '127.0.0.1',
  port,
  security: 'none' as const,
  verifyCertificate: false,
});
const login = { user: 'alice*vmail', password: 'sécret "pw"' };
let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  const todo = cleanup;
  cleanup = [];
  for (const c of todo) await c();
});

describe('ImapAppender', () => {
  it('MULTIAPPENDs with LITERAL+ in one command, streams bodies, reads APPENDUID', async () => {
    const srv = fakeServer({
      caps: 'AUTH=PLAIN SASL-IR LITERAL+ MULTIAPPEND UIDPLUS',
      answer: () => 'OK [APPENDUID 77 10:11] done',
    });
    const app = await ImapAppender.open(where(await srv.listen()), login);
    cleanup.push(srv.close, async () => app.close());
    const big = Buffer.alloc(300_000, 'x');
    const out = await app.append('Projekte/Überprüfung', [
      {
        size: 5,
        body: Buffer.from('hello'),
        flags: ['\\Seen', '\\Recent', '$Label1'],
        internalDate: new Date('2004-01-05T09:03:04Z'),
      },
      { size: big.length, body: () => Readable.from([big.subarray(0, 1000), big.subarray(1000)]), flags: [] },
    ]);
    expect(out).toEqual({ ok: true, uidValidity: '77', uids: [10, 11] });
    const auth = srv.commands.find((c) => c.line.includes('AUTHENTICATE'))!;
    const sasl = Buffer.from(auth.line.split(' ')[3]!, 'base64').toString();
    expect(sasl).toBe('\0alice*vmail\0sécret "pw"');
    const append = srv.commands.find((c) => c.line.includes('APPEND'))!;
    expect(append.line).toBe(
      `W2 APPEND "Projekte/&ANw-berpr&APw-fung" (\\Seen $Label1) " 5-Jan-2004 09:03:04 +0000" {5+} () {300000+}`,
    );
    expect(append.literals.map((l) => l.length)).toEqual([5, 300_000]);
    expect(append.literals[1]!.equals(big)).toBe(true);
  });

  it('waits for "+" without LITERAL+, and a refusal instead of "+" ends only that command', async () => {
    let n = 0;
    const srv = fakeServer({
      caps: 'AUTH=PLAIN UIDPLUS',
      maxSyncLiteral: 10,
      answer: () => `OK [APPENDUID 5 ${++n}] ok`,
    });
    const app = await ImapAppender.open(where(await srv.listen()), login);
    cleanup.push(srv.close, async () => app.close());
    const [a, b, c] = await Promise.all([
      app.append('INBOX', [{ size: 3, body: Buffer.from('one'), flags: [] }]),
      app.append('INBOX', [{ size: 20, body: Buffer.alloc(20, 'y'), flags: [] }]),
      app.append('INBOX', [{ size: 3, body: Buffer.from('two'), flags: [] }]),
    ]);
    expect(a).toEqual({ ok: true, uidValidity: '5', uids: [1] });
    expect(b).toEqual({ ok: false, status: 'NO', code: 'TOOBIG', text: 'message too big' });
    expect(c).toEqual({ ok: true, uidValidity: '5', uids: [2] });
  });

  it('a refused login is an AuthenticationError without the password', async () => {
    const srv = fakeServer({ caps: 'AUTH=PLAIN SASL-IR', login: 'no', answer: () => 'OK' });
    const port = await srv.listen();
    cleanup.push(srv.close);
    const err = await ImapAppender.open(where(port), login).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as Error).message).toMatch(
      /alice\*vmail at 127\.0\.0\.1 refused: \[AUTHENTICATIONFAILED\] nope/,
    );
    expect((err as Error).message).not.toContain('sécret');
  });

  it('parses UID sets in the order given (RFC 4315)', () => {
    expect(parseUidSet('4:6,9')).toEqual([4, 5, 6, 9]);
    expect(parseUidSet('9:7')).toEqual([9, 8, 7]);
    expect(parseUidSet('x')).toEqual([]);
  });
});
