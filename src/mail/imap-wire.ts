/**
 * A minimal IMAP connection for commands imapflow cannot do our way: it sends bytes we stream
 * (APPEND literals from a spool, RFC 3501 7.5 / RFC 7888 LITERAL+), pipelines commands without
 * waiting for each answer, reads only the greeting, capabilities, continuations and tagged
 * responses, and drops untagged data (literals too) unless {@link ImapWire.collect} asks for it.
 * Failures are our typed errors, classified like imapflow's ({@link classifyImapError}).
 */
import net from 'node:net';
import tls from 'node:tls';
import { ProtocolError } from '../core/errors.js';
import { classifyImapError } from './imap-errors.js';
import { type MailSecurity, tlsConnectOptions } from './tls.js';

/** Where to connect; the same security modes as `connectImap`. */
export interface WireOptions {
  host: string;
  port: number;
  security: MailSecurity;
  verifyCertificate: boolean;
  connectTimeoutMs?: number;
  /** Longest silence while a command waits for its answer. */
  socketTimeoutMs?: number;
  signal?: AbortSignal;
}

/** A tagged response: `tag OK [CODE args] text`. */
export interface Tagged {
  status: 'OK' | 'NO' | 'BAD';
  /** The response code (RFC 3501 7.1), upper case, e.g. `APPENDUID`, `OVERQUOTA`. */
  code?: string;
  /** The response code's arguments, split on spaces. */
  codeArgs: string[];
  text: string;
}

interface Waiter {
  resolve(t: Tagged): void;
  reject(e: Error): void;
}

type Untagged = (response: string, literals: Buffer[]) => void;

const TAGGED = /^(\S+) (OK|NO|BAD)(?: \[([^\]\s]+)(?: ([^\]]*))?\])? ?(.*)$/i;

/** One IMAP connection at the byte level; open with {@link ImapWire.connect}. */
export class ImapWire {
  /** Upper-case capability names, from the greeting, the login answer, or CAPABILITY. */
  readonly capabilities = new Set<string>();
  #socket: net.Socket;
  #buf: Buffer = Buffer.alloc(0);
  #skip = 0;
  #parts: string[] = [];
  /** While a {@link collect} runs: its handler, and the literals of the response being read. */
  #untagged?: Untagged;
  #literals: Buffer[][] = [];
  #tags = 0;
  #pending = new Map<string, Waiter>();
  #continuation?: { tag: string; resolve(v: boolean): void; reject(e: Error): void };
  #greeting?: Waiter;
  #failed?: Error;

  private constructor(
    socket: net.Socket,
    private readonly opts: WireOptions,
  ) {
    this.#socket = socket;
    this.attach(socket);
  }

  /** Connects, reads the greeting and, with `starttls`, upgrades before anything else is sent. */
  static async connect(opts: WireOptions): Promise<ImapWire> {
    opts.signal?.throwIfAborted();
    const timeout = opts.connectTimeoutMs ?? 30_000;
    const tlsOptions = tlsConnectOptions(opts);
    const socket =
      opts.security === 'tls' ? tls.connect(tlsOptions) : net.connect({ host: opts.host, port: opts.port });
    socket.setNoDelay(true);
    const wire = new ImapWire(socket, opts);
    const abort = (): void => wire.fail(asError(opts.signal?.reason));
    opts.signal?.addEventListener('abort', abort, { once: true });
    socket.once('close', () => opts.signal?.removeEventListener('abort', abort));
    const timer = setTimeout(() => wire.fail(timeoutError(opts.host, 'greeting')), timeout);
    try {
      const greeting = await new Promise<Tagged>((resolve, reject) => (wire.#greeting = { resolve, reject }));
      if (greeting.status !== 'OK')
        throw new ProtocolError(`IMAP ${opts.host}: ${greeting.text}`, 'ECONNECTION');
      if (opts.security === 'starttls') await wire.startTls(tlsOptions);
      if (wire.capabilities.size === 0 || opts.security === 'starttls') await wire.refreshCapabilities();
      return wire;
    } catch (err) {
      wire.fail(err as Error);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs `command` (without tag) and resolves its tagged response, whatever its status. */
  async simple(command: string): Promise<Tagged> {
    const tag = this.nextTag();
    const answer = this.expect(tag);
    await this.write(`${tag} ${command}\r\n`);
    return answer;
  }

  /**
   * Runs `command` like {@link simple}, handing each untagged response to `onUntagged`: its
   * text (literals as their `{n}` markers) and the bytes of its literals, in order.
   */
  async collect(command: string, onUntagged: Untagged): Promise<Tagged> {
    if (this.#untagged) throw new Error('ImapWire: one collect() at a time');
    this.#untagged = onUntagged;
    try {
      return await this.simple(command);
    } finally {
      this.#untagged = undefined;
    }
  }

  /** A fresh tag. Register it with {@link expect} before writing the command. */
  nextTag(): string {
    return `W${++this.#tags}`;
  }

  /** The tagged response of `tag`; rejects when the connection fails first. */
  expect(tag: string): Promise<Tagged> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => this.#pending.set(tag, { resolve, reject }));
  }

  /** True on the server's `+` (send the literal now), false when `tag` was answered instead. */
  continuation(tag: string): Promise<boolean> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => (this.#continuation = { tag, resolve, reject }));
  }

  /** Writes, waiting for the socket to drain (backpressure) and failing when the connection did. */
  async write(data: Buffer | string): Promise<void> {
    if (this.#failed) throw this.#failed;
    if (this.#socket.write(data)) return;
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        this.#socket.off('drain', done).off('close', closed);
        if (err) reject(err);
        else resolve();
      };
      const closed = (): void => done(this.#failed ?? connectionClosed(this.opts.host));
      this.#socket.once('drain', done).once('close', closed);
    });
  }

  /** Ends the connection: every waiting command rejects with `err`. */
  fail(err: Error): void {
    if (!this.#failed) this.#failed = err;
    const e = this.#failed;
    this.#greeting?.reject(e);
    this.#greeting = undefined;
    this.#continuation?.reject(e);
    this.#continuation = undefined;
    for (const w of this.#pending.values()) w.reject(e);
    this.#pending.clear();
    this.#socket.destroy();
  }

  /** LOGOUT, then close; errors are ignored (the work is done or already failed). */
  async logout(): Promise<void> {
    if (this.#failed) return;
    let timer: NodeJS.Timeout | undefined;
    const patience = new Promise((r) => (timer = setTimeout(r, 2000)));
    await Promise.race([this.simple('LOGOUT'), patience]).catch(() => undefined);
    clearTimeout(timer); // a pending timer would keep the process alive
    this.fail(connectionClosed(this.opts.host));
  }

  async refreshCapabilities(): Promise<void> {
    const r = await this.simple('CAPABILITY');
    if (r.status !== 'OK')
      throw new ProtocolError(`IMAP ${this.opts.host}: CAPABILITY failed: ${r.text}`, 'EPROTOCOL');
  }

  private async startTls(tlsOptions: tls.ConnectionOptions): Promise<void> {
    if (!this.capabilities.has('STARTTLS') && this.capabilities.size > 0) {
      throw new ProtocolError(`IMAP ${this.opts.host}: STARTTLS required but not offered`, 'ETLS');
    }
    const r = await this.simple('STARTTLS');
    if (r.status !== 'OK')
      throw new ProtocolError(`IMAP ${this.opts.host}: STARTTLS refused: ${r.text}`, 'ETLS');
    const plain = this.#socket;
    plain.removeAllListeners('data');
    const secure = tls.connect({ socket: plain, ...tlsOptions });
    this.#socket = secure;
    this.attach(secure);
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      // A refused certificate is ETLS here as on an implicit-TLS connection, not Node's raw error.
      secure.once('error', (err) => reject(classifyImapError(err, { host: this.opts.host })));
    });
    this.capabilities.clear(); // RFC 3501 6.2.1: forget what was said before TLS
  }

  private attach(socket: net.Socket): void {
    const timeoutMs = this.opts.socketTimeoutMs ?? 120_000;
    socket.setTimeout(timeoutMs, () => {
      if (this.#pending.size > 0 || this.#greeting)
        this.fail(timeoutError(this.opts.host, `${timeoutMs} ms of silence`));
    });
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('error', (err) => this.fail(classifyImapError(err, { host: this.opts.host })));
    socket.on('close', () => {
      if (socket === this.#socket) this.fail(connectionClosed(this.opts.host));
    });
  }

  private read(chunk: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    for (;;) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, this.#buf.length);
        if (this.#untagged) this.#literals.at(-1)?.push(this.#buf.subarray(0, n));
        this.#buf = this.#buf.subarray(n);
        this.#skip -= n;
        if (this.#skip > 0) return;
      }
      const end = this.#buf.indexOf('\r\n');
      if (end < 0) return;
      const line = this.#buf.subarray(0, end).toString('utf8');
      this.#buf = this.#buf.subarray(end + 2);
      const literal = /\{(\d+)\+?\}$/.exec(line);
      this.#parts.push(line);
      if (literal) {
        this.#skip = Number(literal[1]); // dropped unless collected (e.g. a FETCH after NOOP)
        if (this.#untagged) this.#literals.push([]);
        continue;
      }
      const response = this.#parts.join(' ');
      const literals = this.#literals.map((l) => Buffer.concat(l));
      [this.#parts, this.#literals] = [[], []];
      if (response.startsWith('* ')) this.#untagged?.(response, literals);
      this.handle(response);
    }
  }

  private handle(line: string): void {
    if (line.startsWith('+')) {
      const c = this.#continuation;
      this.#continuation = undefined;
      c?.resolve(true);
      return;
    }
    const caps = /^\* (?:OK \[CAPABILITY ([^\]]*)\]|CAPABILITY (.*))/i.exec(line);
    if (caps) this.setCapabilities(caps[1] ?? caps[2] ?? '');
    if (this.#greeting && line.startsWith('* ')) {
      const status = /^\* (OK|PREAUTH)/i.test(line) ? 'OK' : 'NO';
      this.#greeting.resolve({ status, codeArgs: [], text: line.slice(2) });
      this.#greeting = undefined;
      return;
    }
    const m = TAGGED.exec(line);
    if (!m || line.startsWith('* ')) return;
    const tagged: Tagged = {
      status: m[2]!.toUpperCase() as Tagged['status'],
      ...(m[3] ? { code: m[3].toUpperCase() } : {}),
      codeArgs: m[4] ? m[4].trim().split(/\s+/) : [],
      text: m[5] ?? '',
    };
    if (tagged.code === 'CAPABILITY') this.setCapabilities(m[4] ?? '');
    const waiting = this.#continuation;
    if (waiting && waiting.tag === m[1]) {
      this.#continuation = undefined;
      waiting.resolve(false);
    }
    const waiter = this.#pending.get(m[1]!);
    this.#pending.delete(m[1]!);
    waiter?.resolve(tagged);
  }

  private setCapabilities(list: string): void {
    this.capabilities.clear();
    for (const c of list.trim().split(/\s+/)) if (c) this.capabilities.add(c.toUpperCase());
  }
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

function timeoutError(host: string, what: string): ProtocolError {
  return new ProtocolError(`IMAP ${host}: timed out waiting (${what})`, 'ETIMEOUT');
}

function connectionClosed(host: string): ProtocolError {
  return new ProtocolError(`IMAP ${host}: connection closed`, 'ECONNECTION');
}
