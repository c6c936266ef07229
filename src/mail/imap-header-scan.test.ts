import net from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { scanHeaderField } from './imap-header-scan.js';

const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A scripted IMAP server: `answers` maps a command (without tag) to its untagged lines. */
async function fakeServer(answers: (command: string) => string): Promise<{ port: number; seen: string[] }> {
  const seen: string[] = [];
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.write('* OK [CAPABILITY IMAP4rev1] fake ready\r\n');
    let buf = '';
    socket.on('data', async (chunk: Buffer) => {
      buf += chunk.toString('latin1');
      for (let end = buf.indexOf('\r\n'); end >= 0; end = buf.indexOf('\r\n')) {
        const line = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const [tag, ...rest] = line.split(' ');
        const command = rest.join(' ');
        seen.push(command);
        const reply = `${answers(command)}${tag} OK done\r\n`;
        // in small pieces, so literals and lines arrive split
        for (let i = 0; i < reply.length; i += 7)
          await new Promise<void>((r) => socket.write(reply.slice(i, i + 7), 'latin1', () => r()));
        if (command === 'LOGOUT') socket.end();
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, seen };
}

const field = (text: string) => `{${Buffer.byteLength(text, 'latin1')}}\r\n${text}`;

it('searches each folder, then reads only the field of the matching UIDs, literals whole', async () => {
  const inbox = 'X-Mailjobs-Fetched: a pop3/1;\r\nX-Mailjobs-Fetched: forged pop3/9;\r\n\r\n';
  const { port, seen } = await fakeServer((c) => {
    if (c.startsWith('EXAMINE "INBOX"')) return '* 3 EXISTS\r\n* FLAGS (\\Seen)\r\n';
    if (c.startsWith('EXAMINE')) return '* 0 EXISTS\r\n';
    if (c.startsWith('UID SEARCH')) return '* SEARCH 2 3 7\r\n';
    if (c.startsWith('UID FETCH'))
      return (
        `* 1 FETCH (UID 2 BODY[HEADER.FIELDS (X-MAILJOBS-FETCHED)] ${field(inbox)})\r\n` +
        '* 2 FETCH (FLAGS (\\Seen))\r\n' + // unsolicited: no field
        `* 3 FETCH (UID 3 BODY[HEADER.FIELDS (X-MAILJOBS-FETCHED)] ${field('X-Mailjobs-Fetched: a 5/ü;\r\n\r\n')})\r\n`
      );
    return '';
  });
  const where = { host: '127.0.0.1', port, security: 'none' as const, verifyCertificate: false };
  const fields = await scanHeaderField(
    where,
    { user: 'u*vmail', password: 'p"w' },
    ['INBOX', 'Ärger & Co'],
    'X-Mailjobs-Fetched',
    'a "x" ',
  );
  expect(fields.map((f) => f.toString('latin1'))).toEqual([inbox, 'X-Mailjobs-Fetched: a 5/ü;\r\n\r\n']);
  expect(seen).toEqual([
    'LOGIN "u*vmail" "p\\"w"',
    'EXAMINE "INBOX"',
    'UID SEARCH HEADER X-Mailjobs-Fetched "a \\"x\\" "',
    'UID FETCH 2:3,7 (BODY.PEEK[HEADER.FIELDS (X-Mailjobs-Fetched)])',
    'EXAMINE "&AMQ-rger &- Co"',
    'LOGOUT',
  ]);
});

it('a value that cannot be quoted is not searched for: every field of the folder is read', async () => {
  const { port, seen } = await fakeServer((c) => (c.startsWith('EXAMINE') ? '* 1 EXISTS\r\n' : ''));
  const where = { host: '127.0.0.1', port, security: 'none' as const, verifyCertificate: false };
  await scanHeaderField(where, { user: 'u', password: 'p' }, ['INBOX'], 'X-Mailjobs-Fetched', 'jöhn@x ');
  expect(seen.filter((c) => c.startsWith('UID'))).toEqual([
    'UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (X-Mailjobs-Fetched)])',
  ]);
});
