/**
 * A TCP proxy on 127.0.0.1 in front of a fixture, for tests that drop connections at a chosen
 * moment instead of a random one: every connection is forwarded byte for byte, the test sees
 * the bytes of both directions as they pass, and `cut()` (or a rule given to `cutOn`) destroys
 * every live connection at once. A rule may also swallow the chunk that triggered it, so a
 * server's answer is lost on the way: the command was carried out, the client never hears it.
 *
 * `down()` and `up()` make an outage: while down, new connections are reset at once.
 *
 * `stallOn()` kills one connection's path silently, as a lost route or a dropped NAT entry does:
 * from the matching chunk on, nothing of that connection passes either way, and neither side
 * hears an end or a reset. `watch()` lets a test count what passes without touching it.
 *
 * A throttle (`throttle()`, or `start(port, { downBytesPerSecond })`) makes a job slow on purpose,
 * whatever the machine's speed: the bytes of one direction, summed over every connection, pass at
 * most at that rate, so a test can watch progress move or cancel a run in its middle.
 *
 * `hold()` accepts connections but lets no byte pass either way until `release()`: every client
 * that connects meanwhile stays connected, so a test can count who is in session at once.
 */
import { type AddressInfo, createServer, type Server, type Socket, connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

/** Which way a chunk travels: from the client to the server, or back. */
export type Direction = 'up' | 'down';

/** What a rule sees: one chunk, its direction, and the totals so far (this chunk included). */
export interface Passing {
  direction: Direction;
  chunk: Buffer;
  /** Bytes seen in this direction over every connection, this chunk included. */
  total: number;
  /** Connections accepted so far (1 for the first). */
  connection: number;
}

/** Bytes per second for each direction; a direction left out (or 0) is not throttled. */
export interface Throttle {
  upBytesPerSecond?: number;
  downBytesPerSecond?: number;
}

/** An answering rule: the text the proxy answers a client chunk with, or undefined to forward it. */
export type Answer = (p: Passing) => string | undefined;

/** A cutting rule: true to cut before this chunk is forwarded (the chunk is lost). */
export type CutRule = (p: Passing) => boolean;

export class TcpProxy {
  /** Connections cut by `cut()` or a rule, counting each cutting moment once. */
  cuts = 0;
  /** Connections accepted. */
  accepted = 0;
  /** Connections reset at once because the proxy was `down()`. */
  refused = 0;
  /** The most connection pairs live at once. */
  peak = 0;
  /** Client chunks answered by the proxy itself (see `answerOn`). */
  answered = 0;
  private answers: Answer[] = [];
  private refusing = false;
  readonly bytes: Record<Direction, number> = { up: 0, down: 0 };
  private readonly live = new Set<Socket>();
  private rules: { rule: CutRule; resolve: (n: number) => void }[] = [];
  private stallRules: { rule: CutRule; resolve: (connection: number) => void }[] = [];
  private readonly stalled = new Set<number>();
  private readonly watchers: ((p: Passing) => void)[] = [];
  private rate: Record<Direction, number> = { up: 0, down: 0 };
  /** When the throttled stream of each direction is free to send again (ms since the epoch). */
  private readonly freeAt: Record<Direction, number> = { up: 0, down: 0 };
  /** Ends the throttle's waits when the proxy closes. */
  private readonly closing = new AbortController();
  /** While held (see `hold()`): resolves on `release()`. */
  private held: { released: Promise<void>; release(): void } | undefined;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Listens on an ephemeral port of 127.0.0.1 and forwards to `127.0.0.1:targetPort`. */
  static async start(targetPort: number, throttle: Throttle = {}): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const proxy = new TcpProxy(server, (server.address() as AddressInfo).port);
    proxy.throttle(throttle);
    server.on('connection', (client) => proxy.accept(client, targetPort));
    return proxy;
  }

  /** Live connection pairs (client and server side each). */
  get connections(): number {
    return this.live.size / 2;
  }

  /**
   * Cuts every live connection the first time `rule` says so; resolves with how many pairs were
   * cut then. Rules are tried in the order given; each fires once.
   */
  cutOn(rule: CutRule): Promise<number> {
    return new Promise((resolve) => this.rules.push({ rule, resolve }));
  }

  /**
   * A tiny fake in front of the real server: each client chunk is shown to `answer`; when it
   * returns text, the chunk is not forwarded and the text goes back to the client as if the
   * server had said it (a throttling refusal of one command). Until `remove()` is called.
   */
  answerOn(answer: Answer): { remove(): void } {
    this.answers.push(answer);
    return { remove: () => void (this.answers = this.answers.filter((a) => a !== answer)) };
  }

  /**
   * Stalls the connection of the first chunk `rule` matches (that chunk is lost too): from then
   * on its bytes are dropped both ways, and its ends and closes are not passed on. Resolves with
   * the connection's number.
   */
  stallOn(rule: CutRule): Promise<number> {
    return new Promise((resolve) => this.stallRules.push({ rule, resolve }));
  }

  /** Calls `listener` for every chunk that arrives, before any rule (it must not throw). */
  watch(listener: (p: Passing) => void): void {
    this.watchers.push(listener);
  }

  /**
   * Sets the rate of each direction from now on (a direction left out is no longer throttled);
   * bytes already waiting pass at the new rate.
   */
  throttle(t: Throttle): void {
    this.rate = { up: t.upBytesPerSecond ?? 0, down: t.downBytesPerSecond ?? 0 };
  }

  /** From now on no byte passes either way (connections are still accepted) until `release()`. */
  hold(): void {
    if (this.held) return;
    let release = () => undefined as void;
    const released = new Promise<void>((resolve) => (release = resolve));
    this.held = { released, release };
  }

  /** Ends `hold()`: what waited passes, in order. */
  release(): void {
    this.held?.release();
    this.held = undefined;
  }

  /** Destroys every live connection now; returns how many pairs there were. */
  cut(): number {
    const pairs = this.connections;
    for (const s of this.live) s.destroy();
    this.live.clear();
    this.cuts++;
    return pairs;
  }

  /**
   * An outage: cuts every live connection, and resets every new one at once (the client sees
   * ECONNRESET) until `up()`.
   */
  down(): void {
    this.refusing = true;
    this.cut();
  }

  /** Ends the outage: new connections are forwarded again. */
  up(): void {
    this.refusing = false;
  }

  async close(): Promise<void> {
    this.closing.abort();
    this.release();
    for (const s of this.live) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, targetPort: number): void {
    if (this.refusing) {
      this.refused++;
      client.on('error', () => undefined).resetAndDestroy();
      return;
    }
    const connection = ++this.accepted;
    const upstream = connect(targetPort, '127.0.0.1');
    this.live.add(client).add(upstream);
    this.peak = Math.max(this.peak, this.connections);
    const pipe = (from: Socket, to: Socket, direction: Direction) => {
      const lane = new Lane(from, to, this.pace(direction));
      from.on('data', (chunk: Buffer) => {
        this.bytes[direction] += chunk.length;
        const passing = { direction, chunk, total: this.bytes[direction], connection };
        for (const w of this.watchers) w(passing);
        if (this.stalled.has(connection)) return;
        const stall = this.stallRules.findIndex((r) => r.rule(passing));
        if (stall >= 0) {
          this.stalled.add(connection);
          // Node answers a peer's FIN with its own unless half-open: a dead path answers nothing.
          from.allowHalfOpen = to.allowHalfOpen = true;
          this.stallRules.splice(stall, 1)[0]!.resolve(connection);
          return;
        }
        if (direction === 'up') {
          const reply = this.answers.map((a) => a(passing)).find((r) => r !== undefined);
          if (reply !== undefined) {
            this.answered++;
            from.write(reply);
            return;
          }
        }
        const hit = this.rules.findIndex((r) => r.rule(passing));
        if (hit >= 0) {
          const [fired] = this.rules.splice(hit, 1);
          fired!.resolve(this.cut());
          return;
        }
        lane.send(chunk);
      });
      from.on('end', () => this.stalled.has(connection) || lane.then(() => to.end()));
      from.on('close', () => {
        this.live.delete(from);
        if (!this.stalled.has(connection)) lane.then(() => to.destroy());
      });
      from.on('error', () => undefined);
    };
    pipe(client, upstream, 'up');
    pipe(upstream, client, 'down');
  }

  /**
   * The pace of `direction`: without a rate, nothing waits; with one, each direction is a single
   * stream of that many bytes per second, shared by every connection. While held, nothing passes.
   */
  private pace(direction: Direction): Pace {
    return {
      throttled: () => this.rate[direction] > 0 || this.held !== undefined,
      wait: async (bytes) => {
        while (this.held) await this.held.released;
        const rate = this.rate[direction];
        if (rate <= 0) return;
        const now = Date.now();
        const start = Math.max(now, this.freeAt[direction]);
        this.freeAt[direction] = start + (bytes * 1000) / rate;
        await delay(this.freeAt[direction] - now, undefined, { signal: this.closing.signal }).catch(
          () => undefined,
        );
      },
    };
  }
}

interface Pace {
  throttled(): boolean;
  /** Resolves when `bytes` more may pass. */
  wait(bytes: number): Promise<void>;
}

/** Throttled chunks pass in slices this small, so bytes trickle instead of coming in one late burst. */
const SLICE = 1024;
/** Reading from the sender stops while this much waits, so it feels the throttle too. */
const HIGH_WATER = 64 * 1024;

/**
 * One direction of one connection: chunks are written to `to` in the order they came; without a
 * throttle at once, with one slice by slice at its pace.
 */
class Lane {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private pumping: Promise<void> = Promise.resolve();

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly pace: Pace,
  ) {}

  send(chunk: Buffer): void {
    if (this.queue.length === 0 && !this.pace.throttled()) {
      if (!this.to.destroyed) this.to.write(chunk);
      return;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.queued > HIGH_WATER) this.from.pause();
    if (this.queue.length === 1) this.pumping = this.pump();
  }

  /** Runs `step` once every byte received so far has been written (at once when none waits). */
  then(step: () => void): void {
    if (this.queue.length === 0) step();
    else void this.pumping.then(step);
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0 && !this.to.destroyed) {
      const chunk = this.queue[0]!;
      const slice = chunk.subarray(0, SLICE);
      await this.pace.wait(slice.length);
      if (this.to.destroyed) break;
      this.to.write(slice);
      this.queued -= slice.length;
      if (slice.length === chunk.length) this.queue.shift();
      else this.queue[0] = chunk.subarray(SLICE);
      if (this.queued <= HIGH_WATER / 2 && this.from.isPaused()) this.from.resume();
    }
    this.queue.length = 0;
    this.queued = 0;
  }
}

/**
 * A rule that matches the `nth` occurrence of `text` in one direction, across chunk boundaries
 * (each connection's last bytes are kept, so a word split over two chunks is still seen).
 */
export function nthOccurrence(direction: Direction, text: string, nth: number): CutRule {
  let seen = 0;
  const tails = new Map<number, string>();
  return (p) => {
    if (p.direction !== direction) return false;
    const tail = tails.get(p.connection) ?? '';
    const window = tail + p.chunk.toString('latin1');
    tails.set(p.connection, text.length > 1 ? window.slice(-(text.length - 1)) : '');
    for (let at = window.indexOf(text); at >= 0; at = window.indexOf(text, at + 1)) {
      if (at + text.length <= tail.length) continue; // counted with the previous chunk
      if (++seen === nth) return true;
    }
    return false;
  };
}
