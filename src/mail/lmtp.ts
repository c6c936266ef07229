/**
 * LMTP client (RFC 2033) for delivering fetched messages into the local Dovecot, one recipient
 * per transaction, several transactions per connection. Messages are streamed: memory stays
 * bounded by the chunk size whatever the message size.
 */
import net from 'node:net';
import type { Readable } from 'node:stream';
import { ProtocolError } from '../core/errors.js';
import { checkRecipient, checkSender } from './smtp-address.js';

/** Where the LMTP server listens: TCP, or a unix socket such as Dovecot's `/run/dovecot/lmtp`. */
export type LmtpTarget = { host: string; port: number } | { socket: string };

/** Options of {@link LmtpClient}. Timeouts reject with a `ProtocolError` whose code is `ETIMEOUT`. */
export interface LmtpClientOptions {
  /**
   * `SMTP` speaks to an SMTP server instead (RFC 5321: EHLO for LHLO): with one recipient per
   * transaction, as here, the two dialogues are otherwise the same (RFC 2033 4.2: one reply
   * after DATA per accepted recipient). Default `LMTP`.
   */
  protocol?: 'LMTP' | 'SMTP';
  /** Name announced in LHLO (EHLO). Default `localhost`. */
  lhloName?: string;
  /** TCP connect plus the server greeting. Default 10 s. */
  connectTimeoutMs?: number;
  /** Each command's reply, and the longest pause while the message is being written. Default 60 s. */
  commandTimeoutMs?: number;
  /** The reply after the end of DATA, when the server stores the message. Default 10 min (RFC 5321 4.5.3.2.6). */
  dataTimeoutMs?: number;
}

/** A server reply: `250 2.0.0 <alice> Saved` → `{ code: 250, enhanced: '2.0.0', text: '<alice> Saved' }`. */
export interface LmtpReply {
  code: number;
  enhanced?: string;
  /** Reply text; lines of a multi-line reply are joined with `\n`. */
  text: string;
}

/** One message for one local recipient. */
export interface LmtpDelivery {
  /**
   * Envelope sender: `''` for the null sender `<>`, else an RFC 5321 mailbox in wire form (a
   * local part that needs it quoted: see `smtpReversePath`). Anything else is refused with
   * `EENVELOPE` before a command is sent.
   */
  from: string;
  /** The local recipient, as the LMTP server's user database knows it. */
  to: string;
  /**
   * The raw message: a Buffer, or chunks in order (a `Readable`, or any async iterable of
   * byte chunks). Bytes are kept as they are, apart from line endings (see {@link DataEncoder}).
   */
  message: Buffer | Readable | AsyncIterable<Uint8Array>;
  /** Size in bytes for the SIZE parameter when `message` is a stream (a Buffer knows its own). */
  size?: number;
}

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CR_BUF = Buffer.from('\r');
const DOT_BUF = Buffer.from('.');
const CHUNK_SIZE = 64 * 1024;
/**
 * DATA is written in batches of about this size (one `writev` each): a write per spool chunk
 * costs a system call and a loopback round of the kernel each. Memory stays bounded by it.
 */
const WRITE_BATCH = 256 * 1024;
/** RFC 5321 4.5.3.1.5 allows 512 bytes per reply line; anything far beyond that is not LMTP. */
const MAX_REPLY_LINE = 8 * 1024;

/**
 * Encodes a message for the DATA phase (RFC 5321 4.5.2), chunk by chunk: a bare LF becomes
 * CRLF (SMTP lines end in CRLF; Dovecot stores them as LF, so the stored message equals a
 * CRLF input), a line starting with '.' gets a second '.', and `end()` adds the final
 * CRLF if missing and the `.` terminator. No other byte changes: 8-bit data, bare CRs and
 * broken MIME pass through. State carries across chunks (a CR at the end of one chunk and
 * the LF at the start of the next are one CRLF).
 */
export class DataEncoder {
  private atLineStart = true;
  private lastWasCR = false;

  /**
   * Encodes the next chunk of the message. Returns `chunk` itself when nothing changes in it
   * (CRLF lines, no line starting with '.'), else slices of it with the added bytes between.
   */
  encode(chunk: Uint8Array): Buffer {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (buf.length === 0) return buf;
    const parts: Buffer[] = [];
    let runStart = 0;
    let pos = 0;
    // Only two things add bytes: a line starting with '.' and an LF without its CR.
    if (this.atLineStart && buf[0] === DOT) {
      parts.push(DOT_BUF);
    }
    let lastWasCR = this.lastWasCR;
    for (;;) {
      const lf = buf.indexOf(LF, pos);
      if (lf === -1) break;
      const crBefore = lf > 0 ? buf[lf - 1] === CR : lastWasCR;
      if (!crBefore) {
        if (lf > runStart) parts.push(buf.subarray(runStart, lf));
        parts.push(CR_BUF);
        runStart = lf;
      }
      pos = lf + 1;
      if (pos < buf.length && buf[pos] === DOT) {
        parts.push(buf.subarray(runStart, pos), DOT_BUF);
        runStart = pos;
      }
      lastWasCR = false;
    }
    const last = buf[buf.length - 1];
    this.atLineStart = last === LF;
    this.lastWasCR = last === CR;
    if (parts.length === 0) return buf;
    if (runStart < buf.length) parts.push(buf.subarray(runStart));
    return Buffer.concat(parts);
  }

  /** Ends the message: completes the last line and appends the terminator `.\r\n`. */
  end(): Buffer {
    // A trailing bare CR becomes CRLF (one line ending, not two); no line ending gets CRLF.
    const tail = this.atLineStart ? '' : this.lastWasCR ? '\n' : '\r\n';
    return Buffer.from(`${tail}.\r\n`);
  }
}

async function* chunksOf(message: LmtpDelivery['message']): AsyncGenerator<Uint8Array> {
  if (!Buffer.isBuffer(message)) {
    for await (const chunk of message as AsyncIterable<Uint8Array | string>)
      yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    return;
  }
  for (let i = 0; i < message.length; i += CHUNK_SIZE) yield message.subarray(i, i + CHUNK_SIZE);
}

/** Parses `code[-| ]text` lines into one reply (RFC 5321 4.2.1); enhanced code per RFC 2034. */
function parseReply(lines: string[]): LmtpReply {
  const code = Number(lines[0]?.slice(0, 3));
  const enhanced = /^([245]\.\d{1,3}\.\d{1,3}) /.exec(lines[0]?.slice(4) ?? '')?.[1];
  const strip = enhanced ? `${enhanced} ` : '';
  const text = lines
    .map((l) => (l.slice(4).startsWith(strip) ? l.slice(4 + strip.length) : l.slice(4)))
    .join('\n');
  return enhanced ? { code, enhanced, text } : { code, text };
}

/** `MAIL FROM:<from> PARAM...` (the sender checked by the caller). */
function mailLine(from: string, params: readonly string[]): string {
  return `MAIL FROM:<${from}>${params.map((p) => ` ${p}`).join('')}`;
}

/**
 * An LMTP session. `deliver()` runs one transaction and resolves with the recipient's reply
 * after DATA. A refusal throws `ProtocolError` with `responseCode`: code `EENVELOPE` (MAIL or
 * RCPT refused; no `responseCode` for an address refused here before sending) or `EMESSAGE`
 * (DATA or the message refused); 4xx means try again later, 5xx means permanent. `ETIMEOUT`,
 * `ECONNECTION` and `EPROTOCOL` drop the connection; `connect()` starts a new one.
 */
export class LmtpClient {
  /** Extensions from the LHLO reply, keyword (upper case) → parameters. */
  readonly extensions = new Map<string, string>();
  private socket: net.Socket | undefined;
  private pending: Buffer = Buffer.alloc(0);
  private lines: string[] = [];
  private replies: LmtpReply[] = [];
  private waiter: { resolve: (r: LmtpReply) => void; reject: (e: Error) => void } | undefined;
  private failure: ProtocolError | undefined;
  /** A transaction was started and not ended by its reply after DATA: RSET before the next. */
  private dirty = false;
  private busy = false;
  private readonly opts: Required<Omit<LmtpClientOptions, 'protocol'>>;
  private readonly protocol: 'LMTP' | 'SMTP';

  constructor(
    private readonly target: LmtpTarget,
    opts: LmtpClientOptions = {},
  ) {
    const { protocol = 'LMTP', ...rest } = opts;
    const defaults = { lhloName: 'localhost', connectTimeoutMs: 10_000, commandTimeoutMs: 60_000 };
    this.opts = { ...defaults, dataTimeoutMs: 600_000, ...rest };
    this.protocol = protocol;
  }

  /** Connects, reads the greeting and sends LHLO. */
  async connect(): Promise<void> {
    if (this.socket) throw new ProtocolError(`${this.protocol} client is already connected`, 'EPROTOCOL');
    this.pending = Buffer.alloc(0);
    this.lines = [];
    this.replies = [];
    this.failure = undefined;
    this.dirty = false;
    this.extensions.clear();
    const socket =
      'socket' in this.target
        ? net.connect({ path: this.target.socket })
        : // Each command is a small write awaiting a reply: without TCP_NODELAY, Nagle's algorithm
          // and the server's delayed ACK stall every transaction by ~40 ms.
          net.connect({ ...this.target, noDelay: true });
    this.socket = socket;
    // Events of a socket already given up (after abort or reconnect) must not touch the new session.
    const current = (fn: () => void) => () => void (this.socket === socket && fn());
    const lost = (message: string, code = 'ECONNECTION') =>
      current(() => this.abort(new ProtocolError(message, code)));
    socket.on('data', (data: Buffer) => current(() => this.onData(data))());
    socket.on('error', (err) => lost(`${this.protocol} connection failed: ${err.message}`)());
    socket.on('close', lost(`${this.protocol} connection closed by the server`));
    socket.on('timeout', lost(`${this.protocol} server stopped reading the message`, 'ETIMEOUT'));
    const greeting = await this.nextReply(this.opts.connectTimeoutMs, 'connect and greeting');
    this.ok(greeting, 'greeting', 'ECONNECTION', true);
    const hello = this.protocol === 'LMTP' ? 'LHLO' : 'EHLO';
    const lhlo = this.ok(await this.command(`${hello} ${this.opts.lhloName}`), hello, 'EPROTOCOL', true);
    for (const line of lhlo.text.split('\n').slice(1)) {
      const [keyword = '', ...params] = line.trim().split(/\s+/);
      this.extensions.set(keyword.toUpperCase(), params.join(' '));
    }
  }

  /**
   * Delivers one message to one recipient; resolves with the 2xx reply after DATA. One delivery
   * at a time per client. If a `Readable` message fails, that error is thrown and the
   * connection is dropped (a half-sent DATA cannot be taken back).
   */
  async deliver(delivery: LmtpDelivery): Promise<LmtpReply> {
    return this.exclusive(() => this.transaction(delivery));
  }

  /**
   * Asks whether the server would take mail for `to` (MAIL FROM:<> and RCPT TO, no DATA) and
   * resolves with the RCPT reply whatever its code: 5xx is an unknown user, 4xx a temporary
   * failure. Lets a caller check the local user before fetching anything.
   */
  async checkRecipient(to: string): Promise<LmtpReply> {
    return this.exclusive(async () => {
      checkRecipient(to);
      await this.mailFrom('', []); // leaves the session dirty: the next transaction sends RSET
      return this.command(`RCPT TO:<${to}>`);
    });
  }

  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.busy) throw new ProtocolError(`${this.protocol} client: one transaction at a time`, 'EPROTOCOL');
    this.busy = true;
    return fn().finally(() => (this.busy = false));
  }

  private async mailFrom(from: string, params: string[]): Promise<void> {
    // RSET after a transaction that stopped half-way (RFC 5321 4.1.1.5); one that ended with
    // its reply after DATA left the session in its initial state already.
    if (this.dirty) this.ok(await this.command('RSET'), 'RSET', 'EPROTOCOL', true);
    this.dirty = true;
    this.ok(await this.command(mailLine(from, params)), 'MAIL FROM', 'EENVELOPE');
  }

  private async transaction({ from, to, message, size }: LmtpDelivery): Promise<LmtpReply> {
    checkSender(from);
    checkRecipient(to);
    const params: string[] = [];
    // RFC 6152: declare 8-bit content so the server takes the bytes as they are.
    if (this.extensions.has('8BITMIME')) params.push('BODY=8BITMIME');
    const bytes = Buffer.isBuffer(message) ? message.length : size;
    if (this.extensions.has('SIZE') && bytes !== undefined) params.push(`SIZE=${bytes}`);
    if (this.extensions.has('SMTPUTF8') && /[^\p{ASCII}]/u.test(to)) params.push('SMTPUTF8');
    if (this.extensions.has('PIPELINING')) await this.envelopePipelined(from, to, params);
    else {
      await this.mailFrom(from, params);
      this.ok(await this.command(`RCPT TO:<${to}>`), `RCPT TO:<${to}>`, 'EENVELOPE');
      const go = await this.command('DATA');
      if (go.code !== 354) this.refuse(go, 'DATA', go.code >= 400 ? 'EMESSAGE' : 'EPROTOCOL', go.code < 400);
    }
    await this.writeMessage(message);
    // RFC 2033 4.2: one reply per accepted recipient after the terminator; we sent one RCPT.
    const reply = await this.nextReply(this.opts.dataTimeoutMs, 'message delivery');
    this.dirty = false;
    return this.ok(reply, `message for <${to}>`, 'EMESSAGE');
  }

  /**
   * RFC 2920: [RSET,] MAIL, RCPT and DATA in one write, then their replies in order. DATA ends
   * the group: the message goes only after its 354.
   */
  private async envelopePipelined(from: string, to: string, params: string[]): Promise<void> {
    const reset = this.dirty;
    this.dirty = true;
    const group = `${reset ? 'RSET\r\n' : ''}${mailLine(from, params)}\r\nRCPT TO:<${to}>\r\nDATA\r\n`;
    this.connected().write(group);
    const timeout = this.opts.commandTimeoutMs;
    const rset = reset ? await this.nextReply(timeout, 'RSET') : undefined;
    const mailReply = await this.nextReply(timeout, 'MAIL FROM');
    const rcptReply = await this.nextReply(timeout, 'RCPT TO');
    const go = await this.nextReply(timeout, 'DATA');
    // A server that says 354 after refusing the envelope waits for a message we will not send.
    const stray = go.code === 354;
    if (rset) this.ok(rset, 'RSET', 'EPROTOCOL', true);
    this.ok(mailReply, 'MAIL FROM', 'EENVELOPE', stray);
    this.ok(rcptReply, `RCPT TO:<${to}>`, 'EENVELOPE', stray);
    if (!stray) this.refuse(go, 'DATA', go.code >= 400 ? 'EMESSAGE' : 'EPROTOCOL', go.code < 400);
  }

  /** Sends QUIT and closes the connection; safe to call twice or after a failure. */
  async close(): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    if (!this.failure) {
      // The server's answer to QUIT changes nothing: the connection ends either way.
      await this.command('QUIT', Math.min(this.opts.commandTimeoutMs, 5000)).catch(() => undefined);
    }
    this.abort(new ProtocolError(`${this.protocol} client closed`, 'ECONNECTION'));
  }

  private async writeMessage(message: LmtpDelivery['message']): Promise<void> {
    const socket = this.connected();
    const encoder = new DataEncoder();
    socket.setTimeout(this.opts.commandTimeoutMs); // idle socket while writing → 'timeout' → abort
    let batch: Buffer[] = [];
    let batched = 0;
    try {
      for await (const chunk of chunksOf(message)) {
        const encoded = encoder.encode(chunk);
        batch.push(encoded);
        batched += encoded.length;
        if (batched < WRITE_BATCH) continue;
        const full = batch;
        batch = [];
        batched = 0;
        await this.write(full);
      }
      batch.push(encoder.end());
      await this.write(batch);
    } catch (err) {
      // DATA cannot be cancelled in SMTP: a half-sent message poisons the session, drop it.
      this.abort(new ProtocolError(`${this.protocol} DATA aborted`, 'ECONNECTION'));
      throw err;
    } finally {
      socket.setTimeout(0);
    }
  }

  /** Writes `parts` in one go (corked: one `writev`), then waits while the socket is full. */
  private async write(parts: Buffer[]): Promise<void> {
    const socket = this.connected();
    socket.cork();
    let room = true;
    for (const part of parts) if (part.length > 0) room = socket.write(part);
    socket.uncork();
    if (room) return;
    await new Promise<void>((resolve, reject) => {
      const settle = (): void => {
        socket.off('drain', settle);
        socket.off('close', settle);
        if (this.failure) reject(this.failure);
        else resolve();
      };
      socket.on('drain', settle);
      socket.on('close', settle);
    });
  }

  private async command(line: string, timeoutMs = this.opts.commandTimeoutMs): Promise<LmtpReply> {
    this.connected().write(`${line}\r\n`);
    return this.nextReply(timeoutMs, line.split(':')[0] ?? line);
  }

  private connected(): net.Socket {
    if (this.failure) throw this.failure;
    if (!this.socket) throw new ProtocolError(`${this.protocol} client is not connected`, 'ECONNECTION');
    return this.socket;
  }

  private nextReply(timeoutMs: number, what: string): Promise<LmtpReply> {
    const queued = this.replies.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      // The error (and its stack) is made only when the timer fires, not for every reply.
      const timer = setTimeout(
        () =>
          this.abort(
            new ProtocolError(`${this.protocol} ${what} timed out after ${timeoutMs} ms`, 'ETIMEOUT'),
          ),
        timeoutMs,
      );
      const settled = (): void => void (clearTimeout(timer), (this.waiter = undefined));
      this.waiter = { resolve: (r) => (settled(), resolve(r)), reject: (e) => (settled(), reject(e)) };
    });
  }

  private onData(data: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, data]) : data;
    let lf: number;
    while ((lf = this.pending.indexOf(LF)) !== -1) {
      const line = this.pending.subarray(0, lf).toString('utf8').replace(/\r$/, '');
      this.pending = this.pending.subarray(lf + 1);
      this.lines.push(line);
      if (!/^\d{3}([ -]|$)/.test(line) || this.lines.length > 200) {
        return this.abort(
          new ProtocolError(
            `${this.protocol}: not a reply: ${JSON.stringify(line.slice(0, 100))}`,
            'EPROTOCOL',
          ),
        );
      }
      if (line[3] === '-') continue;
      const reply = parseReply(this.lines);
      this.lines = [];
      if (this.waiter) this.waiter.resolve(reply);
      else this.replies.push(reply);
    }
    if (this.pending.length > MAX_REPLY_LINE)
      this.abort(new ProtocolError(`${this.protocol} reply line too long`, 'EPROTOCOL'));
  }

  /** Ends the session for good; the first failure is the one every later call reports. */
  private abort(err: ProtocolError): void {
    this.failure ??= err;
    this.socket?.destroy();
    this.socket = undefined;
    this.waiter?.reject(this.failure);
  }

  /** Returns a 2xx reply, else {@link refuse}s it. */
  private ok(reply: LmtpReply, what: string, code: string, fatal = false): LmtpReply {
    return reply.code >= 200 && reply.code < 300 ? reply : this.refuse(reply, what, code, fatal);
  }

  /** Throws the reply as a ProtocolError; `fatal` also drops the session (it is in an unknown state). */
  private refuse(reply: LmtpReply, what: string, code: string, fatal: boolean): never {
    const text = [reply.code, reply.enhanced, reply.text].filter((t) => t !== undefined).join(' ');
    const err = new ProtocolError(
      `${this.protocol} ${what} refused: ${text}`,
      code,
      reply.code,
      reply.enhanced,
    );
    if (fatal) this.abort(err);
    throw err;
  }
}
