/**
 * APPEND done for bulk copies: message bodies streamed from a spool or a buffer (never joined
 * into one big buffer), non-synchronizing literals where the server allows them (RFC 7888
 * LITERAL+ / LITERAL-), several messages per command with MULTIAPPEND (RFC 3502: one command,
 * one transaction), commands pipelined (the next batch is written while the server stores the
 * previous one), and the new UIDs read from APPENDUID (RFC 4315 UIDPLUS).
 */
import type { Readable } from 'node:stream';
import { AuthenticationError, ProtocolError } from '../core/errors.js';
import { encodeMailboxName, imapDateTime, isAtom, quoteString } from './imap-utf7.js';
import { ImapWire, type Tagged, type WireOptions } from './imap-wire.js';

/** One message to append. */
export interface AppendMessage {
  /** Exact byte length of `body`: it is announced before the bytes are sent. */
  size: number;
  body: Buffer | (() => Readable);
  /** Flags and keywords; `\Recent` and anything that is not an atom are dropped. */
  flags: readonly string[];
  internalDate?: Date;
  /** The body holds NUL bytes: sent as a literal8 (RFC 3516) when the server has BINARY. */
  binary?: boolean;
}

/** What the server said to one APPEND command. */
export type AppendOutcome =
  | { ok: true; uidValidity?: string; uids?: number[] }
  | { ok: false; status: 'NO' | 'BAD'; code?: string; text: string };

/** Who logs in: `user` with `password`, for `authzid` when given (SASL PLAIN, RFC 4616). */
export interface AppendLogin {
  user: string;
  password: string;
  authzid?: string;
}

/** RFC 7888 LITERAL-: non-synchronizing literals only up to this size. */
const LITERAL_MINUS_MAX = 4096;

/** An APPEND-only IMAP connection (see the module comment); open with {@link ImapAppender.open}. */
export class ImapAppender {
  #writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly wire: ImapWire,
    private readonly host: string,
  ) {}

  /** Connects and logs in; a refused login is an `AuthenticationError`. */
  static async open(where: WireOptions, login: AppendLogin): Promise<ImapAppender> {
    const wire = await ImapWire.connect(where);
    try {
      await authenticate(wire, where.host, login);
      if (!wire.capabilities.has('IMAP4REV1')) await wire.refreshCapabilities();
      return new ImapAppender(wire, where.host);
    } catch (err) {
      wire.fail(err as Error);
      throw err;
    }
  }

  /** True when one command may carry several messages (RFC 3502). */
  get multiAppend(): boolean {
    return this.wire.capabilities.has('MULTIAPPEND');
  }

  /** True when the server reports the new UIDs (RFC 4315). */
  get uidPlus(): boolean {
    return this.wire.capabilities.has('UIDPLUS');
  }

  /**
   * Appends `messages` to `mailbox` in one command (MULTIAPPEND when more than one). Returns at
   * once; the command is written after the ones before it, and the promise settles with the
   * server's answer. A MULTIAPPEND that fails stored none of its messages (RFC 3502 6.3.11).
   * A failed write (connection lost, a body of the wrong length) fails the connection.
   */
  append(mailbox: string, messages: readonly AppendMessage[]): Promise<AppendOutcome> {
    if (messages.length === 0) return Promise.resolve({ ok: true, uids: [] });
    if (messages.length > 1 && !this.multiAppend) throw new Error('the server has no MULTIAPPEND');
    const tag = this.wire.nextTag();
    const answer = this.wire.expect(tag);
    const write = this.#writing.then(() => this.writeAppend(tag, mailbox, messages));
    this.#writing = write.catch((err: Error) => this.wire.fail(err));
    return Promise.all([answer, write]).then(([tagged]) => outcome(tagged, messages.length));
  }

  async logout(): Promise<void> {
    await this.#writing;
    await this.wire.logout();
  }

  close(): void {
    this.wire.fail(new ProtocolError('appender closed', 'ECONNECTION'));
  }

  private async writeAppend(tag: string, mailbox: string, messages: readonly AppendMessage[]): Promise<void> {
    const caps = this.wire.capabilities;
    const name = quoteString(encodeMailboxName(mailbox));
    if (!name) throw new ProtocolError(`mailbox name ${JSON.stringify(mailbox)} cannot be sent`, 'EPROTOCOL');
    let head = `${tag} APPEND ${name}`;
    for (const m of messages) {
      const flags = m.flags.filter((f) => f.toLowerCase() !== '\\recent' && isAtom(f.replace(/^\\/, '')));
      const date = m.internalDate ? ` ${imapDateTime(m.internalDate)}` : '';
      const nonSync = caps.has('LITERAL+') || (caps.has('LITERAL-') && m.size <= LITERAL_MINUS_MAX);
      const eight = m.binary && caps.has('BINARY') ? '~' : '';
      await this.wire.write(
        `${head} (${flags.join(' ')})${date} ${eight}{${m.size}${nonSync ? '+' : ''}}\r\n`,
      );
      head = '';
      // A synchronizing literal waits for "+"; a refusal instead (size, TRYCREATE) ends the command.
      if (!nonSync && !(await this.wire.continuation(tag))) return;
      if (Buffer.isBuffer(m.body)) await this.wire.write(m.body);
      else await pipeLiteral(this.wire, this.host, m.body(), m.size);
    }
    await this.wire.write('\r\n');
  }
}

/** Streams exactly `size` bytes from `stream`; a different length would desync the session. */
async function pipeLiteral(wire: ImapWire, host: string, stream: Readable, size: number): Promise<void> {
  let sent = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    sent += chunk.length;
    if (sent > size) break;
    await wire.write(chunk);
  }
  if (sent !== size) {
    const err = new ProtocolError(`IMAP ${host}: literal of ${size} bytes got ${sent}`, 'EPROTOCOL');
    wire.fail(err);
    throw err;
  }
}

/** `4:6,9` → [4, 5, 6, 9], in the server's order (RFC 4315: the order of the appended messages). */
export function parseUidSet(set: string): number[] {
  const out: number[] = [];
  for (const part of set.split(',')) {
    const [a, b] = part.split(':').map(Number);
    if (!Number.isInteger(a) || (b !== undefined && !Number.isInteger(b))) return [];
    if (b === undefined) out.push(a!);
    else for (let u = a!; a! <= b ? u <= b : u >= b; u += a! <= b ? 1 : -1) out.push(u);
  }
  return out;
}

function outcome(t: Tagged, count: number): AppendOutcome {
  if (t.status !== 'OK')
    return { ok: false, status: t.status, ...(t.code ? { code: t.code } : {}), text: t.text };
  if (t.code !== 'APPENDUID' || t.codeArgs.length < 2) return { ok: true };
  const uids = parseUidSet(t.codeArgs[1]!);
  return uids.length === count ? { ok: true, uidValidity: t.codeArgs[0]!, uids } : { ok: true };
}

/** RFC 5530 codes after which the same login may work later. */
const TEMPORARY = new Set(['UNAVAILABLE', 'SERVERBUG', 'LIMIT', 'INUSE']);

/** AUTHENTICATE PLAIN (with SASL-IR when offered, RFC 4959), else LOGIN; never logged. */
export async function authenticate(wire: ImapWire, host: string, login: AppendLogin): Promise<void> {
  const caps = wire.capabilities;
  let answer: Tagged;
  if (caps.has('AUTH=PLAIN') || login.authzid) {
    const response = Buffer.from(`${login.authzid ?? ''}\0${login.user}\0${login.password}`).toString(
      'base64',
    );
    if (caps.has('SASL-IR')) {
      answer = await wire.simple(`AUTHENTICATE PLAIN ${response}`);
    } else {
      const tag = wire.nextTag();
      const done = wire.expect(tag);
      await wire.write(`${tag} AUTHENTICATE PLAIN\r\n`);
      if (await wire.continuation(tag)) await wire.write(`${response}\r\n`);
      answer = await done;
    }
  } else {
    const user = quoteString(login.user);
    const pass = quoteString(login.password);
    if (!user || !pass)
      throw new AuthenticationError(`IMAP ${host}: the credentials cannot be sent with LOGIN`);
    answer = await wire.simple(`LOGIN ${user} ${pass}`);
  }
  if (answer.status === 'OK') return;
  const who = login.authzid ? `${login.user} (for ${login.authzid})` : login.user;
  const said = `${answer.code ? `[${answer.code}] ` : ''}${answer.text}`.slice(0, 300);
  if (answer.code && TEMPORARY.has(answer.code)) {
    throw new ProtocolError(`IMAP login as ${who} at ${host} failed for now: ${said}`, 'EPROTOCOL');
  }
  throw new AuthenticationError(`IMAP login as ${who} at ${host} refused: ${said}`);
}
