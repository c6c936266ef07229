import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClamdClient, parseScanReply, parseVersionReply } from './clamd.js';

describe('parseScanReply', () => {
  it('reads clean and infected answers', () => {
    expect(parseScanReply('stream: OK\0')).toEqual({ infected: false });
    expect(parseScanReply('stream: eicar.com.UNOFFICIAL FOUND\0')).toEqual({
      infected: true,
      virus: 'eicar.com.UNOFFICIAL',
    });
    expect(parseScanReply('stream: Win.Test.EICAR_HDB-1 FOUND')).toEqual({
      infected: true,
      virus: 'Win.Test.EICAR_HDB-1',
    });
  });

  it('maps the StreamMaxLength answer to ESIZE and other errors to EPROTOCOL', () => {
    expect(() => parseScanReply('INSTREAM size limit exceeded. ERROR\0')).toThrow(
      expect.objectContaining({ code: 'ESIZE' }),
    );
    expect(() => parseScanReply("stream: Can't allocate memory ERROR")).toThrow(
      expect.objectContaining({ code: 'EPROTOCOL' }),
    );
    expect(() => parseScanReply('UNKNOWN COMMAND')).toThrow(expect.objectContaining({ code: 'EPROTOCOL' }));
  });
});

describe('parseVersionReply', () => {
  it('reads engine, database version and date', () => {
    const v = parseVersionReply('ClamAV 1.4.6/27000/Tue Nov 25 09:01:22 2025\0');
    expect(v).toMatchObject({
      engine: '1.4.6',
      dbVersion: 27000,
      raw: 'ClamAV 1.4.6/27000/Tue Nov 25 09:01:22 2025',
    });
    // clamd prints its local time without a zone, and so it is read.
    expect(v.dbDate?.getTime()).toBe(new Date(2025, 10, 25, 9, 1, 22).getTime());
  });

  it('accepts the bare form clamd gives without a CVD database', () => {
    expect(parseVersionReply('ClamAV 1.4.6')).toEqual({ engine: '1.4.6', raw: 'ClamAV 1.4.6' });
  });

  it('refuses anything else', () => {
    expect(() => parseVersionReply('PONG')).toThrow(expect.objectContaining({ code: 'EPROTOCOL' }));
  });
});

describe('ClamdClient against a fake clamd', () => {
  let dir: string;
  let server: net.Server | undefined;
  beforeEach(async () => void (dir = await mkdtemp(path.join(os.tmpdir(), 'mailjobs-clamd-unit-'))));
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * A server that decodes INSTREAM frames and answers `stream: OK` at the end, or clamd's size
   * error past `limit` bytes. `seen` holds what the latest connection sent.
   */
  const fakeClamd = async (opts: { limit?: number; silent?: boolean } = {}) => {
    const seen = { command: '', frames: [] as number[], body: Buffer.alloc(0) };
    const socket = path.join(dir, 'clamd.sock');
    server = net.createServer((conn) => {
      let buf = Buffer.alloc(0);
      let command: string | undefined;
      const mine = { command: '', frames: [] as number[], body: Buffer.alloc(0) };
      conn.on('data', (d: Buffer) => {
        Object.assign(seen, mine);
        buf = Buffer.concat([buf, d]);
        if (command === undefined) {
          const nul = buf.indexOf(0);
          if (nul < 0) return;
          command = seen.command = mine.command = buf.subarray(0, nul).toString();
          buf = buf.subarray(nul + 1);
        }
        if (opts.silent) return;
        while (buf.length >= 4) {
          const len = buf.readUInt32BE(0);
          if (len === 0) return void conn.end('stream: OK\0');
          if (buf.length < 4 + len) return;
          mine.frames.push(len);
          seen.body = mine.body = Buffer.concat([mine.body, buf.subarray(4, 4 + len)]);
          buf = buf.subarray(4 + len);
          if (opts.limit !== undefined && mine.body.length > opts.limit) {
            return void conn.end('INSTREAM size limit exceeded. ERROR\0');
          }
        }
      });
      conn.on('error', () => undefined);
    });
    await new Promise<void>((r) => server?.listen(socket, r));
    return { client: new ClamdClient({ socket }), seen };
  };

  it('frames a stream in chunks of at most 64 KiB and ends with a zero-length frame', async () => {
    const { client, seen } = await fakeClamd();
    const data = Buffer.alloc(200_000, 7);
    const source = Readable.from([data.subarray(0, 150_000), data.subarray(150_000)]);
    expect(await client.scanStream(source, { timeoutMs: 2000 })).toEqual({ infected: false });
    expect(seen.command).toBe('zINSTREAM');
    expect(seen.frames).toEqual([65536, 65536, 18928, 50000]);
    expect(seen.body.equals(data)).toBe(true);
  });

  it('stops sending and throws ESIZE when clamd answers mid-stream', async () => {
    const { client } = await fakeClamd({ limit: 100_000 });
    const big = Readable.from(
      (function* () {
        for (let i = 0; i < 1000; i++) yield Buffer.alloc(65536);
      })(),
    );
    await expect(client.scanStream(big, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'ESIZE' });
  });

  it('throws ESIZE itself past maxStreamBytes, without sending the excess', async () => {
    const { client, seen } = await fakeClamd();
    const source = Readable.from([Buffer.alloc(60_000), Buffer.alloc(60_000)]);
    await expect(
      client.scanStream(source, { timeoutMs: 2000, maxStreamBytes: 100_000 }),
    ).rejects.toMatchObject({
      code: 'ESIZE',
    });
    expect(seen.body.length).toBeLessThanOrEqual(100_000);
    expect(
      await client.scanStream(Buffer.alloc(100_000), { timeoutMs: 2000, maxStreamBytes: 100_000 }),
    ).toEqual({
      infected: false,
    });
  });

  it('throws ETIMEOUT on silence and ECONNECTION when nothing listens', async () => {
    const { client } = await fakeClamd({ silent: true });
    await expect(client.scanStream(Buffer.from('x'), { timeoutMs: 100 })).rejects.toMatchObject({
      code: 'ETIMEOUT',
    });
    await expect(new ClamdClient({ socket: path.join(dir, 'none.sock') }).ping()).rejects.toMatchObject({
      code: 'ECONNECTION',
    });
  });
});
