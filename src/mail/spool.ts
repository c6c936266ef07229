/**
 * A message being fetched: kept in memory while small, spilled to a temp file past a
 * threshold, so a 50 MB message never sits in the heap (or twice in it). Read it back as
 * a stream as many times as needed (scanners, LMTP), then `dispose()`.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';

/** Bytes kept in memory before spilling to disk. */
export const SPILL_THRESHOLD = 1024 * 1024;
/** Bytes of the head kept in memory for header parsing. */
const HEAD_BYTES = 64 * 1024;

export class MessageSpool {
  #chunks: Buffer[] = [];
  #size = 0;
  #head: Buffer[] = [];
  #headSize = 0;
  #file?: { dir: string; path: string; out: WriteStream };
  #closed = false;

  constructor(private readonly threshold = SPILL_THRESHOLD) {}

  /** Appends bytes; spills to a file once past the threshold. */
  async write(chunk: Buffer): Promise<void> {
    if (this.#closed) throw new Error('spool is closed');
    if (this.#headSize < HEAD_BYTES) {
      const part = chunk.subarray(0, HEAD_BYTES - this.#headSize);
      this.#head.push(part);
      this.#headSize += part.length;
    }
    this.#size += chunk.length;
    if (this.#file) {
      if (!this.#file.out.write(chunk))
        await new Promise<void>((r) => this.#file!.out.once('drain', () => r()));
      return;
    }
    this.#chunks.push(chunk);
    if (this.#size > this.threshold) {
      const dir = await mkdtemp(join(tmpdir(), 'mailjobs-spool-'));
      const path = join(dir, 'message');
      const out = createWriteStream(path, { mode: 0o600 });
      this.#file = { dir, path, out };
      for (const c of this.#chunks) out.write(c);
      this.#chunks = [];
    }
  }

  /** Marks the message complete; call before reading. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#file && !this.#file.out.writableFinished) {
      this.#file.out.end();
      await finished(this.#file.out);
    }
  }

  get size(): number {
    return this.#size;
  }

  /** True once the message went to a temp file. */
  get spilled(): boolean {
    return this.#file !== undefined;
  }

  /** The first bytes (at least the header of any sane message). */
  head(): Buffer {
    return Buffer.concat(this.#head);
  }

  /** The message from byte `start` on, as a stream (from memory or from the temp file). */
  stream(start = 0): Readable {
    if (!this.#closed) throw new Error('spool is still being written');
    if (this.#file) return createReadStream(this.#file.path, { start, highWaterMark: 256 * 1024 });
    return Readable.from(start === 0 ? this.#chunks : [Buffer.concat(this.#chunks).subarray(start)]);
  }

  /**
   * The message from byte `start` on, as chunks: the buffers themselves while in memory (no
   * stream machinery, no copy), else read from the temp file.
   */
  async *chunks(start = 0): AsyncGenerator<Buffer> {
    if (!this.#closed) throw new Error('spool is still being written');
    if (this.#file) {
      yield* createReadStream(this.#file.path, { start, highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>;
      return;
    }
    let skip = start;
    for (const chunk of this.#chunks) {
      if (skip >= chunk.length) {
        skip -= chunk.length;
        continue;
      }
      yield skip > 0 ? chunk.subarray(skip) : chunk;
      skip = 0;
    }
  }

  /** The whole message in memory; only for messages known to be small. */
  buffer(): Buffer | undefined {
    return this.#file ? undefined : Buffer.concat(this.#chunks);
  }

  async dispose(): Promise<void> {
    this.#chunks = [];
    if (this.#file) {
      this.#file.out.destroy();
      await rm(this.#file.dir, { recursive: true, force: true });
    }
  }
}
