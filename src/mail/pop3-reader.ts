/**
 * The read side of a POP3 session (RFC 1939 section 3): status lines, and multi-line
 * responses turned back into the bytes the server meant, whatever the TCP chunking.
 *
 * Bytes are never decoded: a message is 8-bit data (and sometimes broken MIME), so it goes
 * from socket buffers to the consumer as `Buffer` slices. Only status lines become text.
 */
import { ProtocolError } from '../core/errors.js';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CRLF_DOT = Buffer.from('\r\n.');
const EMPTY = Buffer.alloc(0);
/**
 * RFC 2449 section 4 caps a response line at 512 octets; some servers send longer ones
 * (long greetings, `-ERR` texts). Far beyond that it is not POP3, and we stop buffering.
 */
export const MAX_STATUS_LINE = 8 * 1024;

/**
 * A status line: `+OK 2 320` → `{ ok: true, text: '2 320' }`. During AUTH (RFC 5034 section 4)
 * the server may instead send a continuation, `+ <base64 challenge>`: `continuation` is true.
 */
export interface Pop3Status {
  ok: boolean;
  text: string;
  continuation?: true;
}

/** Where the reader gets bytes from. `read()` rejects (with a `ProtocolError`) once no more can come. */
export interface ByteSource {
  read(): Promise<Buffer>;
}

const enum State {
  /** Inside a line. */
  Mid,
  /** Inside a line, and the last byte was CR: an LF now ends the line. */
  Cr,
  /** At the start of a line (after CRLF). */
  Start,
  /** A line started with '.', held back until we know whether it ends the response. */
  Dot,
  /** A line started with ".\r", held back likewise. */
  DotCr,
}

/**
 * Undoes the byte-stuffing of one multi-line response (RFC 1939 section 3): a line that
 * starts with '.' lost that '.', and the line ".\r\n" ends the response. Lines end only at
 * CRLF: a bare LF or CR is message data, kept as is. Everything else passes through
 * unchanged, as slices of the input (no copying), in runs between stuffed dots.
 *
 * The state machine keeps the few bytes it cannot decide on yet (a line-initial '.' or
 * ".\r" at the end of a chunk), so the result does not depend on where chunks are cut.
 */
export class DotUnstuffer {
  #state = State.Start;

  /**
   * Consumes the next chunk. `data` is message content, in order; `rest` is set once the
   * terminator was seen, and holds the bytes after it (the next pipelined response).
   */
  push(chunk: Buffer): { data: Buffer[]; rest?: Buffer } {
    const data: Buffer[] = [];
    let pos = 0;
    let runStart = 0;
    const cut = (end: number): void => {
      if (end > runStart) data.push(chunk.subarray(runStart, end));
    };
    while (pos < chunk.length) {
      switch (this.#state) {
        case State.Start:
          if (chunk[pos] === DOT) {
            cut(pos);
            runStart = ++pos;
            this.#state = State.Dot;
          } else this.#state = State.Mid;
          break;
        case State.Dot:
          if (chunk[pos] === CR) {
            runStart = ++pos;
            this.#state = State.DotCr;
          } else this.#state = State.Mid; // a stuffed '.': dropped, the line goes on
          break;
        case State.DotCr:
          if (chunk[pos] === LF) return { data, rest: chunk.subarray(pos + 1) };
          // ".\r" then something else: a stuffed line starting with a bare CR; keep the CR.
          data.push(Buffer.from([CR]));
          this.#state = State.Mid;
          break;
        case State.Cr:
          if (chunk[pos] === LF) {
            pos++;
            this.#state = State.Start;
          } else this.#state = State.Mid;
          break;
        case State.Mid: {
          // Fast path: only "\r\n." needs work; the native search skips everything else.
          const i = chunk.indexOf(CRLF_DOT, pos);
          if (i !== -1) {
            cut(i + 2);
            runStart = pos = i + 3;
            this.#state = State.Dot;
            break;
          }
          // The chunk ends mid-line; remember whether a line may end or start at the cut.
          const n = chunk.length;
          if (chunk[n - 1] === CR) this.#state = State.Cr;
          else if (n - 2 >= pos && chunk[n - 2] === CR && chunk[n - 1] === LF) this.#state = State.Start;
          pos = n;
        }
      }
    }
    cut(pos);
    return { data };
  }
}

/**
 * Parses `+OK text` / `-ERR text`, and with `continuation` (inside AUTH) also `+ challenge`;
 * anything else is not a POP3 status line.
 */
export function parseStatus(line: string, continuation = false): Pop3Status {
  const c = continuation ? /^\+(?: (.*))?$/.exec(line) : null;
  if (c) return { ok: true, text: c[1] ?? '', continuation: true };
  const m = /^(\+OK|-ERR)(?: (.*))?$/i.exec(line);
  if (!m) {
    throw new ProtocolError(`POP3 server sent garbage: ${JSON.stringify(line.slice(0, 100))}`, 'EPROTOCOL');
  }
  return { ok: m[1]!.toUpperCase() === '+OK', text: m[2] ?? '' };
}

/**
 * Reads responses one after the other from a {@link ByteSource}. Bytes read past the end of
 * a response stay buffered for the next one, which is what makes pipelining (RFC 2449
 * PIPELINING) work: several responses may arrive in one chunk.
 */
export class Pop3ResponseReader {
  #pending: Buffer = EMPTY;

  constructor(private readonly source: ByteSource) {}

  /** Bytes received but not yet consumed (must be 0 when STLS starts: RFC 2595 section 4). */
  get buffered(): number {
    return this.#pending.length;
  }

  /**
   * Reads one status line (with `continuation`, an AUTH continuation too). Status lines end in
   * CRLF; a bare LF is tolerated here.
   */
  async status(continuation = false): Promise<Pop3Status> {
    for (;;) {
      const lf = this.#pending.indexOf(LF);
      if (lf !== -1 && lf < MAX_STATUS_LINE) {
        const end = lf > 0 && this.#pending[lf - 1] === CR ? lf - 1 : lf;
        const line = this.#pending.toString('utf8', 0, end);
        this.#pending = this.#pending.subarray(lf + 1);
        return parseStatus(line, continuation);
      }
      if (this.#pending.length >= MAX_STATUS_LINE) {
        throw new ProtocolError(`POP3 status line over ${MAX_STATUS_LINE} bytes`, 'EPROTOCOL');
      }
      const chunk = await this.source.read();
      this.#pending = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    }
  }

  /**
   * Reads the body of a multi-line response (after its `+OK` line) up to and without the
   * terminating ".\r\n", handing unstuffed bytes to `onData` and awaiting it before reading
   * on (backpressure: a slow consumer slows the socket, not the heap). If `onData` throws,
   * the response is left half-read: the session cannot go on.
   *
   * With `batchBytes`, slices are gathered into calls of at least that size (the last one
   * may be smaller): TLS hands over one 4-16 KB record at a time, and a file write per
   * record costs more than copying.
   */
  async multiline(onData: (chunk: Buffer) => void | Promise<void>, batchBytes = 0): Promise<void> {
    const unstuffer = new DotUnstuffer();
    let batch: Buffer[] = [];
    let batched = 0;
    const flush = async (): Promise<void> => {
      if (batched === 0) return;
      const data = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched);
      batch = [];
      batched = 0;
      await onData(data);
    };
    let chunk = this.#pending;
    this.#pending = EMPTY;
    for (;;) {
      if (chunk.length > 0) {
        const { data, rest } = unstuffer.push(chunk);
        for (const part of data) {
          batch.push(part);
          batched += part.length;
          if (batched >= batchBytes) await flush();
        }
        if (rest) {
          this.#pending = rest;
          return flush();
        }
      }
      chunk = await this.source.read();
    }
  }

  /**
   * Reads a multi-line response as text lines (CAPA, UIDL, LIST: short ASCII lines). Stops
   * with EPROTOCOL past `maxBytes`, so a broken server cannot fill the heap.
   */
  async lines(maxBytes = 64 * 1024 * 1024): Promise<string[]> {
    const parts: Buffer[] = [];
    let size = 0;
    await this.multiline((part) => {
      size += part.length;
      if (size > maxBytes) throw new ProtocolError(`POP3 listing over ${maxBytes} bytes`, 'EPROTOCOL');
      parts.push(part);
    });
    const text = Buffer.concat(parts).toString('latin1');
    return text === '' ? [] : text.replace(/\r\n$/, '').split('\r\n');
  }
}
