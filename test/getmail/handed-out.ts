/**
 * Raw bytes in and out of a private Dovecot, around every client of ours: messages stored as
 * Maildir files exactly as given, and read back as POP3 RETR hands them out, by a reader so
 * simple it is obviously right (the getmail path under test uses our own POP3 client).
 */
import { chown, mkdir, rename, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { DovecotFixture } from '../fixtures/dovecot.js';

/**
 * Puts `messages` into `user`'s INBOX as Maildir files, in this order, byte for byte: LMTP
 * would turn bare LFs into CRLF and IMAP APPEND refuses NULs and empty messages, while a server
 * on the other end of a connector holds whatever it was given.
 */
export async function storeInMaildir(fx: DovecotFixture, user: string, messages: Buffer[]): Promise<void> {
  const home = path.join(fx.dir, 'mail', user);
  const { uid, gid } = await stat(home);
  const maildir = path.join(home, 'Maildir');
  for (const sub of ['', 'tmp', 'new', 'cur']) {
    await mkdir(path.join(maildir, sub), { recursive: true, mode: 0o700 });
    await chown(path.join(maildir, sub), uid, gid);
  }
  // Dovecot numbers new files in the order of their names: the time part keeps ours in order.
  const base = Math.floor(Date.now() / 1000);
  for (const [i, bytes] of messages.entries()) {
    const name = `${base + i}.M${String(i).padStart(6, '0')}P${process.pid}.mailjobs-test`;
    await writeFile(path.join(maildir, 'tmp', name), bytes, { mode: 0o600 });
    await chown(path.join(maildir, 'tmp', name), uid, gid);
    await rename(path.join(maildir, 'tmp', name), path.join(maildir, 'new', name));
  }
}

/** A socket read as a byte stream: `until` waits for a condition on everything received so far. */
function byteStream(socket: net.Socket) {
  let received = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  socket.on('data', (d: Buffer) => ((received = Buffer.concat([received, d])), wake?.()));
  socket.on('error', (err) => ((failure = err), wake?.()));
  socket.on('close', () => ((failure ??= new Error('POP3 connection closed')), wake?.()));
  return {
    /** Waits until `end(received)` is a position, then takes the bytes up to it. */
    async take(end: (b: Buffer) => number): Promise<Buffer> {
      for (;;) {
        const at = end(received);
        if (at >= 0) {
          const taken = received.subarray(0, at);
          received = received.subarray(at);
          return taken;
        }
        if (failure) throw failure;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}

/**
 * Every message of `user`'s INBOX as POP3 RETR hands it out (logged in as `<user>*vmail`),
 * without the byte-stuffing: the response up to the line ".", each line that starts with "."
 * without that first dot (RFC 1939 section 3).
 */
export async function pop3HandOut(fx: DovecotFixture, user: string): Promise<Buffer[]> {
  const socket = net.connect({ host: '127.0.0.1', port: fx.pop3Port });
  const stream = byteStream(socket);
  const line = () => stream.take((b) => (b.indexOf('\r\n') < 0 ? -1 : b.indexOf('\r\n') + 2));
  const ok = async (command?: string): Promise<string> => {
    if (command) socket.write(`${command}\r\n`);
    const status = (await line()).toString('latin1');
    if (!status.startsWith('+OK')) throw new Error(`POP3 ${command ?? 'greeting'}: ${status}`);
    return status;
  };
  try {
    await ok();
    await ok(`USER ${fx.masterLogin(user)}`);
    await ok(`PASS ${fx.masterPassword}`);
    const count = Number(/^\+OK (\d+)/.exec(await ok('STAT'))?.[1]);
    const out: Buffer[] = [];
    for (let n = 1; n <= count; n++) {
      await ok(`RETR ${n}`);
      // The body ends with the line "."; an empty body is just that line.
      const response = await stream.take((b) => {
        if (b.subarray(0, 3).toString('latin1') === '.\r\n') return 3;
        const at = b.indexOf('\r\n.\r\n');
        return at < 0 ? -1 : at + 5;
      });
      const text = response.subarray(0, response.length - 3).toString('latin1');
      const lines = text.split('\r\n').map((l) => (l.startsWith('.') ? l.slice(1) : l));
      out.push(Buffer.from(lines.join('\r\n'), 'latin1'));
    }
    await ok('QUIT');
    return out;
  } finally {
    socket.destroy();
  }
}
