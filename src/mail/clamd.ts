/**
 * clamd over its local (unix) socket or TCP, with the NUL-terminated `z` commands: `zPING`,
 * `zVERSION`, `zRELOAD`, and `zINSTREAM` to scan a message without a shared file system.
 * One connection per command: clamd answers once and closes, so nothing is pooled.
 *
 * Errors: {@link ProtocolError} with `ETIMEOUT`, `ECONNECTION` (no clamd there, or it hung up
 * without answering), `ESIZE` (the stream is over clamd's `StreamMaxLength`; retrying will
 * not help) or `EPROTOCOL` (an answer we do not understand, or clamd's own `... ERROR`).
 */
import net from 'node:net';
import type { Readable } from 'node:stream';
import { ProtocolError } from '../core/errors.js';

/** Where clamd listens: its `LocalSocket`, or its `TCPAddr`/`TCPSocket`. */
export type ClamdTarget = { socket: string } | { host?: string; port: number };

/** Per-call options. */
export interface ClamdCallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Parsed `VERSION` answer, e.g. `ClamAV 1.4.6/27000/Tue Nov 25 09:01:22 2025`. */
export interface ClamdVersion {
  /** Engine version, e.g. `1.4.6`. */
  engine: string;
  /** Version of the newest loaded database (daily); absent when clamd loaded no CVD. */
  dbVersion?: number;
  /** Build time of that database, read in this host's time zone as clamd prints it. */
  dbDate?: Date;
  /** The answer as clamd sent it. */
  raw: string;
}

/** Options of {@link ClamdClient.scanStream}. */
export interface ClamdScanOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /**
   * clamd's `StreamMaxLength` in bytes: a longer source fails with `ESIZE` before the excess
   * is sent. Set it. Without it clamd's own "size limit exceeded" answer is sometimes lost
   * (~5-10% of the time here, on both transports): clamd closes with our frames unread, our
   * next write fails, and Node drops the socket before reading the answer that is already in
   * the kernel's buffer; the call then fails with `ECONNECTION` ("closed mid-stream").
   */
  maxStreamBytes?: number;
}

/** Verdict of {@link ClamdClient.scanStream}. */
export interface ClamdScanResult {
  infected: boolean;
  /** Signature name, e.g. `Win.Test.EICAR_HDB-1` or `eicar.com.UNOFFICIAL`. */
  virus?: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** Frame size for INSTREAM: memory stays bounded whatever the size of the source's chunks. */
const FRAME_BYTES = 64 * 1024;
/** clamd's answers are one short line; more means we are not talking to clamd. */
const MAX_REPLY_BYTES = 64 * 1024;

/** Parses an INSTREAM answer (`stream: OK`, `stream: NAME FOUND`, `... ERROR`). */
export function parseScanReply(reply: string): ClamdScanResult {
  const text = reply.replace(/\0+$/, '').trim();
  if (text === 'stream: OK') return { infected: false };
  const found = /^stream: (.+) FOUND$/.exec(text);
  if (found) return { infected: true, virus: found[1] as string };
  // clamd stops reading at StreamMaxLength and says so; the message is simply too big.
  if (/size limit exceeded/i.test(text)) throw new ProtocolError(`clamd INSTREAM: ${text}`, 'ESIZE');
  throw new ProtocolError(`clamd INSTREAM: unexpected answer "${text.slice(0, 200)}"`, 'EPROTOCOL');
}

/** Parses a VERSION answer: `ClamAV 1.4.6/27000/Tue Nov 25 09:01:22 2025` or bare `ClamAV 1.4.6`. */
export function parseVersionReply(reply: string): ClamdVersion {
  const raw = reply.replace(/\0+$/, '').trim();
  const m = /^ClamAV ([^/\s]+)(?:\/(\d+)(?:\/(.+))?)?$/.exec(raw);
  if (!m) throw new ProtocolError(`clamd VERSION: unexpected answer "${raw.slice(0, 200)}"`, 'EPROTOCOL');
  const date = m[3] === undefined ? undefined : new Date(m[3]);
  return {
    engine: m[1] as string,
    ...(m[2] === undefined ? {} : { dbVersion: Number(m[2]) }),
    ...(date === undefined || Number.isNaN(date.getTime()) ? {} : { dbDate: date }),
    raw,
  };
}

/** The source as Buffers, whatever the stream's encoding. */
async function* buffers(source: Buffer | Readable): AsyncGenerator<Buffer> {
  if (Buffer.isBuffer(source)) {
    yield source;
    return;
  }
  for await (const chunk of source) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
}

/** Passes `source` through, failing with ESIZE once it exceeds `max` bytes. */
async function* limited(source: AsyncIterable<Buffer>, max: number | undefined): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of source) {
    total += chunk.length;
    if (max !== undefined && total > max) {
      throw new ProtocolError(`clamd INSTREAM: stream over ${max} bytes (StreamMaxLength)`, 'ESIZE');
    }
    yield chunk;
  }
}

/** A client for one clamd. Stateless: each call opens its own connection. */
export class ClamdClient {
  constructor(
    readonly target: ClamdTarget,
    private readonly defaults: { timeoutMs?: number; maxStreamBytes?: number } = {},
  ) {}

  /** Resolves when clamd answers `PONG`. */
  async ping(opts: ClamdCallOptions = {}): Promise<void> {
    const reply = await this.converse('PING', undefined, opts);
    if (reply !== 'PONG')
      throw new ProtocolError(`clamd PING: unexpected answer "${reply.slice(0, 200)}"`, 'EPROTOCOL');
  }

  /** Engine and database versions. */
  async version(opts: ClamdCallOptions = {}): Promise<ClamdVersion> {
    return parseVersionReply(await this.converse('VERSION', undefined, opts));
  }

  /** Asks clamd to reload its databases (it answers at once and reloads in the background). */
  async reload(opts: ClamdCallOptions = {}): Promise<void> {
    const reply = await this.converse('RELOAD', undefined, opts);
    if (reply !== 'RELOADING')
      throw new ProtocolError(`clamd RELOAD: unexpected answer "${reply.slice(0, 200)}"`, 'EPROTOCOL');
  }

  /**
   * Scans `source` with INSTREAM: `<4-byte big-endian length><bytes>` frames of at most 64 KiB,
   * then a zero-length frame. Writes wait for the socket to drain, so memory stays bounded
   * for any message size. A stream source is consumed, and destroyed if the scan ends early.
   */
  async scanStream(source: Buffer | Readable, opts: ClamdScanOptions): Promise<ClamdScanResult> {
    const body = limited(buffers(source), opts.maxStreamBytes ?? this.defaults.maxStreamBytes);
    return parseScanReply(await this.converse('INSTREAM', body, opts));
  }

  private describe(): string {
    return 'socket' in this.target
      ? this.target.socket
      : `${this.target.host ?? '127.0.0.1'}:${this.target.port}`;
  }

  /** Sends `z<command>\0` (and the framed body) and resolves with the answer, without its NUL. */
  private async converse(
    command: string,
    body: AsyncIterable<Buffer> | undefined,
    opts: ClamdCallOptions,
  ): Promise<string> {
    const what = `clamd ${command} at ${this.describe()}`;
    const timeoutMs = opts.timeoutMs ?? this.defaults.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const signal = opts.signal;
    signal?.throwIfAborted();
    const t = this.target;
    const socket =
      'socket' in t
        ? net.connect({ path: t.socket })
        : net.connect({ host: t.host ?? '127.0.0.1', port: t.port });

    return new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let connected = false;
      let midStream = false;
      let settled = false;
      const finish = (err: unknown, reply?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        if (reply !== undefined) resolve(reply);
        else reject(err);
      };
      const onAbort = (): void => finish(signal?.reason);
      const timer = setTimeout(
        () => finish(new ProtocolError(`${what}: no answer within ${timeoutMs} ms`, 'ETIMEOUT')),
        timeoutMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });

      const drained = (): Promise<void> =>
        new Promise((done) => {
          const go = (): void => {
            socket.off('drain', go);
            socket.off('close', go);
            done();
          };
          socket.on('drain', go);
          socket.on('close', go);
        });
      const send = async (): Promise<void> => {
        socket.write(`z${command}\0`);
        if (body === undefined) return;
        midStream = true;
        for await (const chunk of body) {
          for (let at = 0; at < chunk.length; at += FRAME_BYTES) {
            // clamd may answer and close before the end (StreamMaxLength): stop sending.
            if (settled || socket.destroyed) return;
            const frame = chunk.subarray(at, at + FRAME_BYTES);
            const head = Buffer.alloc(4);
            head.writeUInt32BE(frame.length);
            socket.write(head);
            if (!socket.write(frame)) await drained();
          }
        }
        if (settled || socket.destroyed) return;
        socket.write(Buffer.alloc(4)); // zero-length frame: end of stream
        midStream = false;
      };

      socket.once('connect', () => {
        connected = true;
        send().catch((err: unknown) => finish(err)); // the source's own error, or our ESIZE
      });
      socket.on('data', (data: Buffer) => {
        chunks.push(data);
        size += data.length;
        const all = Buffer.concat(chunks);
        const nul = all.indexOf(0);
        if (nul >= 0) finish(null, all.subarray(0, nul).toString('utf8'));
        else if (size > MAX_REPLY_BYTES) finish(new ProtocolError(`${what}: answer too long`, 'EPROTOCOL'));
      });
      // After connecting, a write error (EPIPE, ECONNRESET) is clamd hanging up mid-stream:
      // its answer, if any, is still to be read, and 'close' decides.
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (!connected) finish(new ProtocolError(`${what}: ${err.code ?? err.message}`, 'ECONNECTION'));
      });
      socket.once('close', () => {
        const text = Buffer.concat(chunks).toString('utf8').trim();
        if (text) return finish(null, text);
        // Mid-stream this is most likely StreamMaxLength with the answer lost (see maxStreamBytes),
        // but clamd restarting looks the same: don't guess ESIZE.
        const where = midStream ? ' mid-stream' : '';
        finish(new ProtocolError(`${what}: connection closed${where} without an answer`, 'ECONNECTION'));
      });
    });
  }
}
