import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { PermanentJobError, ProtocolError } from '../core/errors.js';
import { Pop3Client } from './pop3.js';
import { type ByteSource, DotUnstuffer, Pop3ResponseReader, parseStatus } from './pop3-reader.js';

/** RFC 1939 section 3 byte-stuffing, the obvious way: a '.' before every line (after CRLF) that starts with one. */
function stuff(message: Buffer): Buffer {
  const text = message.toString('latin1');
  const stuffed = text.replace(/(^|\r\n)\./g, '$1..');
  return Buffer.from(`${stuffed}.\r\n`, 'latin1');
}

/** Feeds `response` to a DotUnstuffer cut at `cuts`; returns the message and what followed the terminator. */
function unstuffInChunks(response: Buffer, cuts: number[]): { message: Buffer; rest: Buffer | undefined } {
  const unstuffer = new DotUnstuffer();
  const out: Buffer[] = [];
  let from = 0;
  let rest: Buffer[] | undefined;
  for (const cut of [...cuts, response.length]) {
    const chunk = response.subarray(from, cut);
    from = cut;
    if (rest) {
      rest.push(chunk);
      continue;
    }
    const result = unstuffer.push(chunk);
    out.push(...result.data);
    if (result.rest) rest = [result.rest];
  }
  return { message: Buffer.concat(out), rest: rest && Buffer.concat(rest) };
}

/** A ByteSource over fixed chunks; then the connection "closes". */
function sourceOf(chunks: Buffer[]): ByteSource {
  const queue = [...chunks];
  return {
    read: () => {
      const chunk = queue.shift();
      return chunk ? Promise.resolve(chunk) : Promise.reject(new ProtocolError('closed', 'ECONNECTION'));
    },
  };
}

/** `buf` cut at every offset: [[]] (whole), [[1]], [[2]], ..., plus one byte at a time. */
function everySplit(buf: Buffer): number[][] {
  const cuts: number[][] = [[]];
  for (let i = 1; i < buf.length; i++) cuts.push([i]);
  cuts.push(Array.from({ length: buf.length }, (_, i) => i + 1));
  return cuts;
}

const bin = (s: string): Buffer => Buffer.from(s, 'latin1');

const messages: Array<[string, Buffer]> = [
  ['an empty message', bin('')],
  ['plain lines', bin('Subject: x\r\n\r\nhello\r\n')],
  [
    '8-bit and invalid UTF-8 bytes',
    Buffer.concat([bin('Subject: caf\xe9\r\n\r\n'), Buffer.from([0xff, 0xfe, 0x80, 0x00, 0x0d, 0x0a])]),
  ],
  ['a line starting with a dot', bin('a\r\n.hidden\r\nb\r\n')],
  ['a line starting with two dots', bin('..two\r\n')],
  ['a line that is just a dot', bin('a\r\n.\r\nb\r\n')],
  ['a line that is two dots', bin('..\r\n')],
  ['the last line is a dot', bin('a\r\n.\r\n')],
  ['dots inside lines', bin('a.b .c\r\n. \r\n')],
  ['a bare LF inside a line, also before a dot', bin('a\nb\n.c\n..d\r\n')],
  ['a bare CR, also after a line-initial dot', bin('a\rb\r\n.\rx\r\n.\r\r\n')],
  ['CR CR LF', bin('a\r\r\n\r\n')],
  ['empty lines', bin('\r\n\r\n\r\n')],
];

describe('DotUnstuffer', () => {
  it.each(messages)('%s survives a cut at every byte offset', (_name, message) => {
    const response = Buffer.concat([stuff(message), bin('+OK next\r\n')]);
    for (const cuts of everySplit(response)) {
      const { message: got, rest } = unstuffInChunks(response, cuts);
      expect(got.toString('latin1'), `cuts ${cuts.join(',')}`).toBe(message.toString('latin1'));
      expect(rest?.toString('latin1'), `cuts ${cuts.join(',')}`).toBe('+OK next\r\n');
    }
  });

  it('undoes stuffing as the RFC describes it, on the wire bytes', () => {
    const wire = bin('..a\r\n...\r\n.\rb\r\nc\n.d\r\n.\r\n');
    expect(unstuffInChunks(wire, []).message.toString('latin1')).toBe('.a\r\n..\r\n\rb\r\nc\n.d\r\n');
  });

  it('passes large runs through as slices of the input, not copies', () => {
    const chunk = bin(`${'x'.repeat(1000)}\r\n`.repeat(50));
    const { data } = new DotUnstuffer().push(chunk);
    expect(data).toHaveLength(1);
    expect(data[0]!.buffer).toBe(chunk.buffer);
  });

  it('keeps every byte value', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const message = Buffer.concat([all, bin('\r\n.'), all, bin('\r\n')]);
    for (const cuts of everySplit(stuff(message))) {
      expect(unstuffInChunks(stuff(message), cuts).message.equals(message)).toBe(true);
    }
  });
});

describe('parseStatus', () => {
  it('parses +OK and -ERR with and without text', () => {
    expect(parseStatus('+OK 2 320')).toEqual({ ok: true, text: '2 320' });
    expect(parseStatus('+OK')).toEqual({ ok: true, text: '' });
    expect(parseStatus('-ERR [AUTH] Authentication failed.')).toEqual({
      ok: false,
      text: '[AUTH] Authentication failed.',
    });
  });

  it('throws EPROTOCOL on anything else', () => {
    for (const line of ['* OK IMAP', '+OKAY', '220 smtp', '']) {
      expect(() => parseStatus(line)).toThrow(
        expect.objectContaining({ name: 'ProtocolError', code: 'EPROTOCOL' }),
      );
    }
  });
});

describe('Pop3ResponseReader', () => {
  // Pipelined: three responses back to back, the first a -ERR where a multi-line one could have come.
  const wire = Buffer.concat([
    bin('-ERR There is no message 9\r\n'),
    bin('+OK 11 octets\r\n'),
    stuff(bin('.x\r\n\xe9\xff\r\n')),
    bin('+OK 1 00000001abcd\r\n'),
  ]);

  async function readAll(reader: Pop3ResponseReader): Promise<unknown[]> {
    const results: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      const status = await reader.status();
      const body: Buffer[] = [];
      // -ERR never has a body (RFC 1939 section 3): the next line is the next response.
      if (status.ok) await reader.multiline((chunk) => void body.push(chunk));
      results.push(status, Buffer.concat(body).toString('latin1'));
    }
    results.push(await reader.status(), reader.buffered);
    return results;
  }

  it('reads -ERR, a multi-line response and a status line from any chunking', async () => {
    for (const cuts of everySplit(wire)) {
      const chunks: Buffer[] = [];
      let from = 0;
      for (const cut of [...cuts, wire.length]) chunks.push(wire.subarray(from, (from = cut)));
      expect(await readAll(new Pop3ResponseReader(sourceOf(chunks)))).toEqual([
        { ok: false, text: 'There is no message 9' },
        '',
        { ok: true, text: '11 octets' },
        '.x\r\n\xe9\xff\r\n',
        { ok: true, text: '1 00000001abcd' },
        0,
      ]);
    }
  });

  it('awaits the consumer before reading on (backpressure)', async () => {
    const chunks = [bin('+OK\r\naaa\r\n'), bin('bbb\r\n'), bin('.\r\n')];
    let reads = 0;
    const reader = new Pop3ResponseReader({ read: () => Promise.resolve(chunks[reads++]!) });
    await reader.status();
    const readsWhileWriting: number[] = [];
    await reader.multiline(async () => {
      const before = reads;
      await nextTurn(); // the reader's reads resolve at once: a read-ahead would happen now
      readsWhileWriting.push(reads - before);
    });
    expect(readsWhileWriting).toEqual([0, 0]);
    expect(reads).toBe(3);
  });

  it('gathers slices into batches of at least batchBytes, the same bytes whatever the chunking', async () => {
    const message = bin('.a\r\nbb\r\n..\r\n\xe9\xff\r\nccc\r\n');
    const response = Buffer.concat([bin('+OK\r\n'), stuff(message)]);
    for (const cuts of everySplit(response)) {
      const chunks: Buffer[] = [];
      let from = 0;
      for (const cut of [...cuts, response.length]) chunks.push(response.subarray(from, (from = cut)));
      const reader = new Pop3ResponseReader(sourceOf(chunks));
      await reader.status();
      const calls: Buffer[] = [];
      await reader.multiline((chunk) => void calls.push(chunk), 7);
      expect(Buffer.concat(calls).equals(message), `cuts ${cuts.join(',')}`).toBe(true);
      expect(calls.slice(0, -1).every((c) => c.length >= 7)).toBe(true);
    }
  });

  it('splits listings into lines', async () => {
    const reader = new Pop3ResponseReader(sourceOf([bin('+OK\r\n1 000a\r\n2 000b\r\n.\r\n+OK\r\n.\r\n')]));
    await reader.status();
    expect(await reader.lines()).toEqual(['1 000a', '2 000b']);
    await reader.status();
    expect(await reader.lines()).toEqual([]);
  });

  it('rejects with the source error when the connection ends mid-response', async () => {
    const reader = new Pop3ResponseReader(sourceOf([bin('+OK\r\npartial line\r\n.')]));
    await reader.status();
    await expect(reader.multiline(() => undefined)).rejects.toMatchObject({ code: 'ECONNECTION' });
  });

  it('throws EPROTOCOL for garbage and for an endless status line', async () => {
    await expect(new Pop3ResponseReader(sourceOf([bin('HTTP/1.1 400\r\n')])).status()).rejects.toMatchObject({
      code: 'EPROTOCOL',
    });
    const endless = Array.from({ length: 10 }, () => bin('x'.repeat(1000)));
    await expect(new Pop3ResponseReader(sourceOf(endless)).status()).rejects.toMatchObject({
      code: 'EPROTOCOL',
    });
  });

  it('stops a listing past its size limit', async () => {
    const reader = new Pop3ResponseReader(
      sourceOf([bin('+OK\r\n'), bin('1 a\r\n'.repeat(100)), bin('.\r\n')]),
    );
    await reader.status();
    await expect(reader.lines(100)).rejects.toMatchObject({ code: 'EPROTOCOL' });
  });
});

describe('Pop3Client.connect', () => {
  it('refuses a value it cannot use as a permanent error naming the field, never a TypeError BullMQ would retry', async () => {
    const refused = Pop3Client.connect({
      host: '127.0.0.1',
      port: 0,
      security: 'none',
      verifyCertificate: true,
      connectTimeoutMs: 1000,
      commandTimeoutMs: 1000,
    });
    await expect(refused).rejects.toBeInstanceOf(PermanentJobError);
    await expect(refused).rejects.toMatchObject({
      code: 'EINVAL',
      message: 'Pop3Client.connect: port must be 1-65535, got 0',
    });
  });
});
