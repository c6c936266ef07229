/**
 * POP3 client (RFC 1939) for fetching remote mail byte for byte: implicit TLS or STLS
 * (RFC 2595, never falling back to plaintext), CAPA and PIPELINING (RFC 2449). Messages are
 * streamed into a {@link MessageSpool} as raw bytes (8-bit data and broken MIME included),
 * so a 50 MB message never sits in the heap.
 *
 * Errors: {@link AuthenticationError} when the server refuses the credentials (not retried);
 * {@link ProtocolError} with `ETIMEOUT` (no answer in time), `ECONNECTION` (connection lost,
 * or the session given up after an aborted read), `ETLS` (handshake, certificate, no STLS)
 * or `EPROTOCOL` (a `-ERR`, with the server's text, or garbage). `EPROTOCOL` for `-ERR` leaves
 * the session usable; every other `ProtocolError` ends it.
 */
import type net from 'node:net';
import tls from 'node:tls';
import { AuthenticationError, InvalidArgumentError, ProtocolError, ThrottledError } from '../core/errors.js';
import { type Pop3Status, Pop3ResponseReader } from './pop3-reader.js';
import {
  type OAuthMechanism,
  chooseOAuthMechanism,
  oauthErrorAcknowledgement,
  oauthErrorStatus,
  oauthInitialResponse,
} from './sasl-oauth.js';
import { type Pop3ConnectOptions, SocketByteSource, openSocket, upgradeToTls } from './pop3-transport.js';
import { dailyLimitError, isDailyLimit, suggestedBackoffMs } from './provider-limits.js';
import { MessageSpool } from './spool.js';
import { isMailSecurity } from './tls.js';

export type { Pop3ConnectOptions };

/** The maildrop's size: `STAT` → `+OK 2 320`. */
export interface Pop3Stat {
  count: number;
  /** Octets, counted with CRLF line endings (RFC 1939 section 5). */
  size: number;
}

/** Options of {@link Pop3Client.retrieveMany}. */
export interface RetrieveManyOptions {
  /** RETR commands sent ahead of the one being read (PIPELINING). Default 16. */
  window?: number;
  /** Makes the spool of each message. Default `new MessageSpool()`. */
  createSpool?: () => MessageSpool;
}

const DEFAULT_WINDOW = 16;
/** Spool writes of at least this size: fewer, larger file writes once a message spills. */
const SPOOL_WRITE_BYTES = 64 * 1024;
/** RFC 3206 and RFC 2449 response codes that mean "not now" rather than "wrong password". */
const TRANSIENT_LOGIN_CODE = /^\[(IN-USE|SYS\/TEMP|LOGIN-DELAY)\b/i;
/** RFC 2449 section 4: a command line is at most 255 octets, CRLF included. */
const MAX_COMMAND_LINE = 255;

/**
 * A POP3 session. Commands may be called without awaiting the previous one: with PIPELINING
 * they go out at once and responses are read in order, otherwise each is sent when the
 * previous response has been read.
 */
export class Pop3Client {
  #socket: net.Socket;
  #source: SocketByteSource;
  #reader: Pop3ResponseReader;
  /** Settles when the last queued response has been read: responses come in command order. */
  #turn: Promise<unknown> = Promise.resolve();
  /** Pipelined commands are being gathered for one write (see #send). */
  #corked = false;
  #capabilities = new Map<string, string>();
  #greeting = '';
  readonly #peer: string;
  readonly #opts: Pop3ConnectOptions;
  readonly #onAbort = (): void => this.#fail(new ProtocolError(`POP3 ${this.#peer}: aborted`, 'ECONNECTION'));

  private constructor(socket: net.Socket, opts: Pop3ConnectOptions) {
    this.#opts = opts;
    this.#peer = `${opts.host}:${opts.port}`;
    this.#socket = socket;
    this.#source = new SocketByteSource(socket, this.#peer, opts.commandTimeoutMs);
    this.#reader = new Pop3ResponseReader(this.#source);
    opts.signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Connects, reads the greeting, asks CAPA and, for `starttls`, upgrades with STLS. */
  static async connect(opts: Pop3ConnectOptions): Promise<Pop3Client> {
    checkOptions(opts);
    const peer = `${opts.host}:${opts.port}`;
    let socket: net.Socket | undefined;
    let client: Pop3Client | undefined;
    const stop = (err: ProtocolError): void => (client ? client.#fail(err) : void socket?.destroy(err));
    const timer = setTimeout(
      () =>
        stop(new ProtocolError(`POP3 ${peer}: no session within ${opts.connectTimeoutMs} ms`, 'ETIMEOUT')),
      opts.connectTimeoutMs,
    );
    const onAbort = (): void => stop(new ProtocolError(`POP3 ${peer}: aborted`, 'ECONNECTION'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (opts.signal?.aborted) throw new ProtocolError(`POP3 ${peer}: aborted`, 'ECONNECTION');
      const opened = openSocket(opts);
      socket = opened.socket;
      await opened.ready;
      client = new Pop3Client(socket, opts);
      await client.#handshake();
      return client;
    } catch (err) {
      if (client) client.close();
      else socket?.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The greeting's text after `+OK`. */
  get greeting(): string {
    return this.#greeting;
  }

  /** CAPA keywords (upper case) → parameters; after STLS, those announced over TLS. Empty without CAPA. */
  get capabilities(): ReadonlyMap<string, string> {
    return this.#capabilities;
  }

  /** True when the session runs over TLS (implicit or STLS). */
  get secure(): boolean {
    return this.#socket instanceof tls.TLSSocket;
  }

  /**
   * USER/PASS (RFC 1939 section 7). A refusal throws {@link AuthenticationError} naming the
   * user, the server and its text (never the password); `[IN-USE]`, `[SYS/TEMP]` and
   * `[LOGIN-DELAY]` (RFC 3206, RFC 2449) say "try later" and throw `EPROTOCOL` instead.
   */
  async login(user: string, password: string): Promise<void> {
    if (/[\r\n\0]/.test(user + password)) {
      throw new AuthenticationError(
        `POP3 login of ${JSON.stringify(user)} at ${this.#peer}: user or password contains CR, LF or NUL`,
      );
    }
    const refused = (status: Pop3Status): Error => this.#loginRefused('login', user, status.text);
    const userStatus = await this.#status(`USER ${user}`, 'USER');
    if (!userStatus.ok) throw refused(userStatus);
    // The label keeps the password out of timeout messages.
    const passStatus = await this.#status(`PASS ${password}`, 'PASS');
    if (!passStatus.ok) throw refused(passStatus);
  }

  /**
   * SASL login with an OAuth 2.0 access token (RFC 5034 AUTH): OAUTHBEARER when CAPA's SASL
   * line offers it, else XOAUTH2. Returns the mechanism used. A refused token throws
   * {@link AuthenticationError} with the server's text and the RFC 7628 error status (never
   * the token); the transient codes of {@link login} throw `EPROTOCOL`.
   */
  async authenticateOAuth(user: string, accessToken: string): Promise<OAuthMechanism> {
    const mechanism = chooseOAuthMechanism((this.#capabilities.get('SASL') ?? '').toUpperCase().split(' '));
    const response = oauthInitialResponse(mechanism, {
      user,
      accessToken,
      host: this.#opts.servername ?? this.#opts.host,
      port: this.#opts.port,
    });
    // RFC 5034 section 4: an initial response that would make the line too long (a real token
    // always does) is sent after the server's first, empty challenge instead.
    const inline = `AUTH ${mechanism} ${response}`;
    const fits = inline.length + 2 <= MAX_COMMAND_LINE;
    let errorStatus: string | undefined;
    // The label keeps the token out of timeout messages.
    const status = await this.#exchange(fits ? inline : `AUTH ${mechanism}`, 'AUTH', async () => {
      let reply = await this.#reader.status(true);
      if (!fits && reply.continuation) {
        this.#socket.write(`${response}\r\n`);
        reply = await this.#reader.status(true);
      }
      if (reply.continuation) {
        // RFC 7628 section 3.2.2: the refusal comes as a challenge holding a JSON error; the
        // client acknowledges it and the server then ends the exchange with -ERR.
        errorStatus = oauthErrorStatus(reply.text);
        this.#socket.write(`${oauthErrorAcknowledgement(mechanism)}\r\n`);
        reply = await this.#reader.status();
      }
      return reply;
    });
    if (status.ok) return mechanism;
    throw this.#loginRefused(
      `${mechanism} login`,
      user,
      `${status.text}${errorStatus ? ` (${errorStatus})` : ''}`,
    );
  }

  /**
   * Why a login was refused: throttled (retry after the time the server names), not now
   * (RFC 3206 `[IN-USE]`, `[SYS/TEMP]`, RFC 2449 `[LOGIN-DELAY]`: `EPROTOCOL`), or the
   * credentials ({@link AuthenticationError}, not retried).
   */
  #loginRefused(what: string, user: string, said: string): Error {
    const wait = suggestedBackoffMs(said);
    if (wait !== undefined) {
      return new ThrottledError(`POP3 ${what} of ${user} at ${this.#peer} throttled: ${said}`, wait);
    }
    if (isDailyLimit(undefined, said, true))
      return dailyLimitError(`POP3 ${what} of ${user} at ${this.#peer}`, said);
    if (TRANSIENT_LOGIN_CODE.test(said)) {
      return new ProtocolError(
        `POP3 ${what} of ${user} at ${this.#peer} refused for now: ${said}`,
        'EPROTOCOL',
      );
    }
    return new AuthenticationError(`POP3 ${what} of ${user} at ${this.#peer} refused: ${said}`);
  }

  /** Number of messages and their total size. */
  async stat(): Promise<Pop3Stat> {
    const status = this.#ok(await this.#status('STAT'), 'STAT');
    const m = /^(\d+) (\d+)/.exec(status.text);
    if (!m) throw this.#garbage('STAT', status.text);
    return { count: Number(m[1]), size: Number(m[2]) };
  }

  /** Message number → size in octets (CRLF line endings), for every message not deleted. */
  async list(): Promise<Map<number, number>> {
    const lines = await this.#listing('LIST');
    return new Map(lines.map((line) => this.#pair('LIST', line, /^(\d+) (\d+)/, Number)));
  }

  /** Message number → unique id (RFC 1939 section 7: stable across sessions), for every message not deleted. */
  async uidl(): Promise<Map<number, string>> {
    const lines = await this.#listing('UIDL');
    return new Map(lines.map((line) => this.#pair('UIDL', line, /^(\d+) ([\x21-\x7e]{1,70})$/, String)));
  }

  /**
   * Streams message `msgNo` into `spool` exactly as the server holds it, CRLF line endings
   * included and dot-stuffing undone, then closes the spool. `EPROTOCOL` on `-ERR` (the
   * spool stays empty). If a spool write fails, the session ends (the rest of the message
   * is still on the wire) and that error is thrown.
   */
  async retrieve(msgNo: number, spool: MessageSpool): Promise<void> {
    await this.#retrieve(msgNo, spool, Promise.resolve());
  }

  /**
   * Retrieves `msgNos` in order and awaits `onMessage` for each; `onMessage` owns the spool
   * (dispose it). Up to `window` RETR commands are in flight, so responses are already on
   * their way (RFC 2449 PIPELINING), but a response is read only once the previous
   * `onMessage` has finished: one spool at a time, the rest waits in socket buffers under
   * TCP flow control. Stops at the first failure, after reading (and dropping) the
   * responses to commands already sent, so the session can still QUIT.
   */
  async retrieveMany(
    msgNos: readonly number[],
    onMessage: (msgNo: number, spool: MessageSpool) => Promise<void>,
    opts: RetrieveManyOptions = {},
  ): Promise<void> {
    const window = Math.max(1, opts.window ?? DEFAULT_WINDOW);
    const createSpool = opts.createSpool ?? (() => new MessageSpool());
    const queued: Array<{ msgNo: number; spool: MessageSpool; done: Promise<void>; read: () => void }> = [];
    let next = 0;
    try {
      for (;;) {
        // Refilled by halves: the RETRs of one refill go out in one write (see #send).
        const refill = queued.length <= window >> 1;
        while (refill && queued.length < window && next < msgNos.length) {
          const msgNo = msgNos[next++]!;
          const spool = createSpool();
          let read!: () => void;
          const done = this.#retrieve(msgNo, spool, new Promise<void>((resolve) => (read = resolve)));
          done.catch(() => undefined); // awaited in order below; not "unhandled" meanwhile
          queued.push({ msgNo, spool, done, read });
        }
        const head = queued.shift();
        if (!head) return;
        head.read();
        try {
          await head.done;
        } catch (err) {
          await head.spool.dispose();
          throw err;
        }
        await onMessage(head.msgNo, head.spool);
      }
    } finally {
      for (const { spool, done, read } of queued.splice(0)) {
        read();
        await done.catch(() => undefined);
        await spool.dispose();
      }
    }
  }

  /** RETR whose response is read into `spool` once `readable` settles (commands go out before). */
  async #retrieve(msgNo: number, spool: MessageSpool, readable: Promise<void>): Promise<void> {
    const command = `RETR ${checkMsgNo(msgNo)}`;
    const status = await this.#exchange(command, command, async () => {
      await readable;
      const status = await this.#reader.status();
      if (status.ok) await this.#reader.multiline((chunk) => spool.write(chunk), SPOOL_WRITE_BYTES);
      return status;
    });
    this.#ok(status, command);
    await spool.close();
  }

  /** Marks a message deleted; the server removes it only on {@link quit} (RFC 1939 UPDATE state). */
  async delete(msgNo: number): Promise<void> {
    const command = `DELE ${checkMsgNo(msgNo)}`;
    this.#ok(await this.#status(command), command);
  }

  /** Unmarks every message deleted in this session (RSET). */
  async reset(): Promise<void> {
    this.#ok(await this.#status('RSET'), 'RSET');
  }

  /**
   * QUIT: the server commits the deletions, then we close. `EPROTOCOL` if it answers `-ERR`
   * (RFC 1939 section 6: some deleted messages were not removed).
   */
  async quit(): Promise<void> {
    const status = await this.#status('QUIT');
    this.close();
    this.#ok(status, 'QUIT');
  }

  /** Drops the connection without QUIT: the server commits no deletion. Safe to call twice. */
  close(): void {
    this.#fail(new ProtocolError(`POP3 ${this.#peer}: session closed`, 'ECONNECTION'));
  }

  async #handshake(): Promise<void> {
    const greeting = await this.#exchange(undefined, 'greeting', () => this.#reader.status());
    if (!greeting.ok)
      throw new ProtocolError(`POP3 ${this.#peer} refused the session: ${greeting.text}`, 'ECONNECTION');
    this.#greeting = greeting.text;
    await this.#capa();
    if (this.#opts.security === 'starttls') await this.#startTls();
  }

  /** RFC 2449 CAPA; a server without it (`-ERR`) is plain RFC 1939, with no extension. */
  async #capa(): Promise<void> {
    const capabilities = new Map<string, string>();
    for (const line of (await this.#listing('CAPA', false)) ?? []) {
      const [keyword = '', ...params] = line.split(' ');
      capabilities.set(keyword.toUpperCase(), params.join(' '));
    }
    this.#capabilities = capabilities;
  }

  /** RFC 2595 section 4: STLS, then a new CAPA (what was said in plaintext may have been forged). */
  async #startTls(): Promise<void> {
    // Without CAPA we cannot know: try STLS, whose -ERR fails just the same.
    if (this.#capabilities.size > 0 && !this.#capabilities.has('STLS')) {
      throw new ProtocolError(`POP3 ${this.#peer} does not offer STLS; not continuing without TLS`, 'ETLS');
    }
    const status = await this.#status('STLS');
    if (!status.ok) throw new ProtocolError(`POP3 ${this.#peer} refused STLS: ${status.text}`, 'ETLS');
    const early = this.#source.detach();
    // Bytes before the handshake were injected by a man in the middle (RFC 7457 section 2.2).
    if (early.length > 0 || this.#reader.buffered > 0) {
      throw new ProtocolError(`POP3 ${this.#peer} sent data after STLS before the TLS handshake`, 'ETLS');
    }
    const { socket, ready } = upgradeToTls(this.#socket, this.#opts);
    this.#socket = socket;
    this.#source = new SocketByteSource(socket, this.#peer, this.#opts.commandTimeoutMs);
    this.#reader = new Pop3ResponseReader(this.#source);
    await ready;
    await this.#capa();
  }

  /** Sends a multi-line command; its lines on +OK, `undefined` on -ERR unless `required`. */
  async #listing(command: string, required: false): Promise<string[] | undefined>;
  async #listing(command: string, required?: true): Promise<string[]>;
  async #listing(command: string, required = true): Promise<string[] | undefined> {
    const { status, lines } = await this.#exchange(command, command, async () => {
      const status = await this.#reader.status();
      return { status, lines: status.ok ? await this.#reader.lines() : undefined };
    });
    if (required) this.#ok(status, command);
    return lines;
  }

  #status(command: string, label = command): Promise<Pop3Status> {
    return this.#exchange(command, label, () => this.#reader.status());
  }

  /**
   * Queues one command and the reading of its response. The write goes out at once under
   * PIPELINING (RFC 2449 section 6.6), otherwise when the previous response has been read.
   * A failure while reading leaves the stream mid-response: it ends the session.
   */
  #exchange<T>(command: string | undefined, label: string, read: () => Promise<T>): Promise<T> {
    const failure = this.#source.failure;
    if (failure) return Promise.reject(failure);
    const pipelined = this.#capabilities.has('PIPELINING');
    if (command !== undefined && pipelined) this.#send(command);
    const run = async (): Promise<T> => {
      const failure = this.#source.failure;
      if (failure) throw failure;
      if (command !== undefined && !pipelined) this.#socket.write(`${command}\r\n`);
      this.#source.context = label;
      try {
        return await read();
      } catch (err) {
        const why = `POP3 ${this.#peer}: session given up in the middle of ${label}`;
        this.#fail(err instanceof ProtocolError ? err : new ProtocolError(why, 'ECONNECTION'));
        throw err;
      } finally {
        this.#source.context = undefined;
      }
    };
    const result = this.#turn.then(run);
    this.#turn = result.catch(() => undefined);
    return result;
  }

  /**
   * Writes a pipelined command. Commands issued in the same tick (a refill of RETRs, a run of
   * DELEs) leave in one write: the socket is corked until the next tick.
   */
  #send(command: string): void {
    const socket = this.#socket;
    if (!this.#corked) {
      this.#corked = true;
      socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        socket.uncork();
      });
    }
    socket.write(`${command}\r\n`);
  }

  #fail(err: ProtocolError): void {
    this.#opts.signal?.removeEventListener('abort', this.#onAbort);
    this.#source.fail(err);
    this.#socket.destroy();
  }

  #ok(status: Pop3Status, command: string): Pop3Status {
    if (status.ok) return status;
    const wait = suggestedBackoffMs(status.text);
    if (wait !== undefined)
      throw new ThrottledError(`POP3 ${this.#peer}: ${command} throttled: ${status.text}`, wait);
    throw new ProtocolError(`POP3 ${this.#peer}: ${command} refused: -ERR ${status.text}`, 'EPROTOCOL');
  }

  #pair<T>(command: string, line: string, pattern: RegExp, value: (s: string) => T): [number, T] {
    const m = pattern.exec(line);
    if (!m) throw this.#garbage(command, line);
    return [Number(m[1]), value(m[2]!)];
  }

  #garbage(command: string, text: string): ProtocolError {
    return new ProtocolError(
      `POP3 ${this.#peer}: unexpected ${command} answer ${JSON.stringify(text.slice(0, 100))}`,
      'EPROTOCOL',
    );
  }
}

function checkOptions(o: Pop3ConnectOptions): void {
  const fail = (field: string, problem: string): never => {
    throw new InvalidArgumentError(`Pop3Client.connect: ${field} ${problem}`);
  };
  if (typeof o.host !== 'string' || o.host === '') fail('host', 'must be a non-empty string');
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535)
    fail('port', `must be 1-65535, got ${o.port}`);
  if (!isMailSecurity(o.security)) fail('security', `must be tls, starttls or none, got ${o.security}`);
  for (const field of ['connectTimeoutMs', 'commandTimeoutMs'] as const) {
    if (!(o[field] > 0)) fail(field, `must be a positive number, got ${o[field]}`);
  }
}

function checkMsgNo(msgNo: number): number {
  if (!Number.isSafeInteger(msgNo) || msgNo < 1)
    throw new InvalidArgumentError(`POP3 message number must be ≥ 1, got ${msgNo}`);
  return msgNo;
}
