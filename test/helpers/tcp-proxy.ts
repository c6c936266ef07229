/**
 * A TCP proxy on 127.0.0.1 in front of a fixture, for tests that drop connections at a chosen
 * moment instead of a random one: every connection is forwarded byte for byte, the test sees
 * the bytes of both directions as they pass, and `cut()` (or a rule given to `cutOn`) destroys
 * every live connection at once. A rule may also swallow the chunk that triggered it, so a
 * server's answer is lost on the way: the command was carried out, the client never hears it.
 */
import { type AddressInfo, createServer, type Server, type Socket, connect } from 'node:net';

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

/** A cutting rule: true to cut before this chunk is forwarded (the chunk is lost). */
export type CutRule = (p: Passing) => boolean;

export class TcpProxy {
  /** Connections cut by `cut()` or a rule, counting each cutting moment once. */
  cuts = 0;
  /** Connections accepted. */
  accepted = 0;
  readonly bytes: Record<Direction, number> = { up: 0, down: 0 };
  private readonly live = new Set<Socket>();
  private rules: { rule: CutRule; resolve: (n: number) => void }[] = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Listens on an ephemeral port of 127.0.0.1 and forwards to `127.0.0.1:targetPort`. */
  static async start(targetPort: number): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const proxy = new TcpProxy(server, (server.address() as AddressInfo).port);
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

  /** Destroys every live connection now; returns how many pairs there were. */
  cut(): number {
    const pairs = this.connections;
    for (const s of this.live) s.destroy();
    this.live.clear();
    this.cuts++;
    return pairs;
  }

  async close(): Promise<void> {
    for (const s of this.live) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, targetPort: number): void {
    const connection = ++this.accepted;
    const upstream = connect(targetPort, '127.0.0.1');
    this.live.add(client).add(upstream);
    const pipe = (from: Socket, to: Socket, direction: Direction) => {
      from.on('data', (chunk: Buffer) => {
        this.bytes[direction] += chunk.length;
        const passing = { direction, chunk, total: this.bytes[direction], connection };
        const hit = this.rules.findIndex((r) => r.rule(passing));
        if (hit >= 0) {
          const [fired] = this.rules.splice(hit, 1);
          fired!.resolve(this.cut());
          return;
        }
        if (!to.destroyed) to.write(chunk);
      });
      from.on('end', () => to.end());
      from.on('close', () => {
        this.live.delete(from);
        to.destroy();
      });
      from.on('error', () => undefined);
    };
    pipe(client, upstream, 'up');
    pipe(upstream, client, 'down');
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
