/**
 * The socket side of a POP3 session: TCP or implicit TLS, the STLS upgrade (RFC 2595), and a
 * byte source with backpressure and idle timeouts. Failures become `ProtocolError`s: `ETLS`
 * for anything between TCP and a verified TLS session, `ECONNECTION` and `ETIMEOUT` otherwise.
 */
import net from 'node:net';
import tls from 'node:tls';
import { ProtocolError } from '../core/errors.js';
import type { ByteSource } from './pop3-reader.js';
import { type MailSecurity, tlsConnectOptions, tlsFailure } from './tls.js';

/** Options of `Pop3Client.connect` (pop3.ts): where the server is, how to reach it, how long to wait. */
export interface Pop3ConnectOptions {
  host: string;
  port: number;
  /** `tls`: implicit TLS (pop3s, port 995). `starttls`: plain, then STLS or fail. `none`: plaintext. */
  security: MailSecurity;
  /** Check the certificate chain and the host name. Off only for servers you trust otherwise. */
  verifyCertificate: boolean;
  /** Name for SNI and the certificate check, when it differs from `host`. */
  servername?: string;
  /** Extra trusted CA certificates (PEM), e.g. a private CA. Default: Node's root store. */
  ca?: string | Buffer;
  /** TCP connect, TLS handshake, greeting, CAPA and STLS together. */
  connectTimeoutMs: number;
  /** Longest silence of the server while we wait for a response (not the whole transfer). */
  commandTimeoutMs: number;
  /** Aborting closes the socket; pending and later calls reject with `ECONNECTION`. */
  signal?: AbortSignal;
}

type Endpoint = Pick<
  Pop3ConnectOptions,
  'host' | 'port' | 'security' | 'verifyCertificate' | 'servername' | 'ca'
>;

/** Read-ahead beyond which the socket is paused until the reader catches up. */
const HIGH_WATER = 512 * 1024;

/**
 * Starts a TCP or implicit-TLS connection. `ready` settles when it can carry POP3, or
 * rejects with `ECONNECTION` (TCP) or `ETLS` (handshake, certificate).
 */
export function openSocket(o: Endpoint): { socket: net.Socket; ready: Promise<void> } {
  const peer = `${o.host}:${o.port}`;
  // Each command is a small write awaiting its reply: Nagle's algorithm plus the server's
  // delayed ACK would hold some back 40 ms. (STLS keeps the plain socket's setting.)
  if (o.security !== 'tls') {
    const socket = net.connect({ host: o.host, port: o.port, noDelay: true });
    return { socket, ready: settled(socket, 'connect', (err) => connectionError(peer, err)) };
  }
  const socket = tls.connect(tlsConnectOptions(o)).setNoDelay(true);
  let tcpUp = false;
  socket.once('connect', () => (tcpUp = true));
  const ready = settled(socket, 'secureConnect', (err) =>
    tcpUp ? tlsError(peer, err) : connectionError(peer, err),
  );
  return { socket, ready };
}

/**
 * Starts TLS on a connected plain socket after `+OK` to STLS. The caller must have stopped
 * reading it and checked that nothing came after the `+OK`.
 */
export function upgradeToTls(
  plain: net.Socket,
  o: Endpoint,
): { socket: tls.TLSSocket; ready: Promise<void> } {
  // Its errors now surface on the TLS socket; without a listener one would crash the process.
  plain.on('error', () => undefined);
  const socket = tls.connect({ ...tlsConnectOptions(o), socket: plain });
  return { socket, ready: settled(socket, 'secureConnect', (err) => tlsError(`${o.host}:${o.port}`, err)) };
}

/** Resolves on `event`; rejects with `classify(err)` on an error or an early close. */
function settled(socket: net.Socket, event: string, classify: (err: Error) => ProtocolError): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (err?: Error): void => {
      socket.off(event, onReady).off('error', settle).off('close', onClose);
      if (!err) return resolve();
      // The first error is the one reported; a late one (EPIPE while a failed handshake
      // sends its alert) must find a listener, or it would crash the process.
      socket.on('error', () => undefined);
      reject(err instanceof ProtocolError ? err : classify(err));
    };
    const onReady = (): void => settle();
    const onClose = (): void => settle(new Error('connection closed'));
    socket.once(event, onReady).once('error', settle).once('close', onClose);
  });
}

function connectionError(peer: string, err: Error): ProtocolError {
  return new ProtocolError(`POP3 ${peer}: connection failed: ${err.message}`, 'ECONNECTION');
}

/** Certificate failures name the reason OpenSSL gives (`self-signed certificate`) and its code. */
function tlsError(peer: string, err: Error & { code?: string }): ProtocolError {
  const what = tlsFailure(err) === 'certificate' ? 'TLS certificate not accepted' : 'TLS handshake failed';
  return new ProtocolError(
    `POP3 ${peer}: ${what}: ${err.message}${err.code ? ` (${err.code})` : ''}`,
    'ETLS',
  );
}

/**
 * A {@link ByteSource} over a socket. It queues `data` chunks and pauses the socket when the
 * reader falls behind (a slow spool), and times out only while actually waiting for the
 * server: time spent in a slow consumer or queued behind another command does not count.
 */
export class SocketByteSource implements ByteSource {
  /** The command whose response is being read, for error messages; undefined between commands. */
  context: string | undefined = 'greeting';
  #queue: Buffer[] = [];
  #queued = 0;
  #failure: ProtocolError | undefined;
  #wake: (() => void) | undefined;
  #closing = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly peer: string,
    private readonly timeoutMs: number,
  ) {
    socket.on('data', this.#onData);
    socket.on('error', this.#onError);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onEnd);
  }

  /** The error that ended the session, if any. */
  get failure(): ProtocolError | undefined {
    return this.#failure;
  }

  read(): Promise<Buffer> {
    const chunk = this.#queue.shift();
    if (chunk) {
      this.#queued -= chunk.length;
      if (this.socket.isPaused() && this.#queued < HIGH_WATER / 2) this.socket.resume();
      return Promise.resolve(chunk);
    }
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const what = this.context ?? 'a command';
        this.fail(
          new ProtocolError(
            `POP3 ${this.peer}: no answer to ${what} within ${this.timeoutMs} ms`,
            'ETIMEOUT',
          ),
        );
      }, this.timeoutMs);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        this.read().then(resolve, reject);
      };
    });
  }

  /** Ends the session with `err` (the first failure wins); pending and later reads reject with it. */
  fail(err: ProtocolError): void {
    this.#failure ??= err;
    this.#closing = true;
    this.socket.destroy();
    this.#wake?.();
  }

  /** Stops listening and returns what was queued, so the socket can be handed to TLS (STLS). */
  detach(): Buffer[] {
    this.socket.off('data', this.#onData);
    this.socket.off('error', this.#onError);
    this.socket.off('end', this.#onEnd);
    this.socket.off('close', this.#onEnd);
    this.socket.pause();
    const queued = this.#queue;
    this.#queue = [];
    return queued;
  }

  #onData = (chunk: Buffer): void => {
    this.#queue.push(chunk);
    this.#queued += chunk.length;
    if (this.#queued > HIGH_WATER) this.socket.pause();
    this.#wake?.();
  };

  #onError = (err: Error): void => {
    if (this.#closing) return;
    this.fail(new ProtocolError(`POP3 ${this.peer}: connection failed: ${err.message}`, 'ECONNECTION'));
  };

  #onEnd = (): void => {
    if (this.#closing) return;
    const when = this.context ? `during ${this.context}` : 'between commands';
    this.fail(new ProtocolError(`POP3 ${this.peer}: connection closed by the server ${when}`, 'ECONNECTION'));
  };
}
