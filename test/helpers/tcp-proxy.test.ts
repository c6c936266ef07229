/**
 * The proxy's throttle, which other tests rely on to make a run slow on purpose: bytes pass
 * intact and in order, never faster than the rate (a lower bound: a loaded machine only adds
 * time), and lifting the throttle lets the rest pass at once.
 */
import { randomBytes } from 'node:crypto';
import { type AddressInfo, connect, createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TcpProxy } from './tcp-proxy.js';

const PAYLOAD = randomBytes(96 * 1024);
let server: Server;
let port: number;

beforeAll(async () => {
  // Sends PAYLOAD to each client at once, then closes its side.
  server = createServer((s) => s.end(PAYLOAD));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

/** Reads everything the server sends through `proxy`; the bytes and how long it took. */
async function download(proxy: TcpProxy, onData?: (received: number) => void) {
  const started = Date.now();
  const chunks: Buffer[] = [];
  let received = 0;
  await new Promise<void>((resolve, reject) => {
    const c = connect(proxy.port, '127.0.0.1');
    c.on('data', (d: Buffer) => {
      chunks.push(d);
      onData?.((received += d.length));
    });
    c.on('end', resolve);
    c.on('error', reject);
  });
  return { bytes: Buffer.concat(chunks), ms: Date.now() - started };
}

describe('TcpProxy throttle', () => {
  it('passes every byte in order, no faster than the rate', async () => {
    const proxy = await TcpProxy.start(port, { downBytesPerSecond: 64 * 1024 });
    try {
      const { bytes, ms } = await download(proxy);
      expect(bytes.equals(PAYLOAD)).toBe(true);
      expect(ms).toBeGreaterThanOrEqual(1400); // 96 kB at 64 kB/s: 1.5 s, less one slice of slack
    } finally {
      await proxy.close();
    }
  });

  it('lifted in the middle of a transfer, lets the rest pass unthrottled', async () => {
    const proxy = await TcpProxy.start(port, { downBytesPerSecond: 1024 });
    try {
      // At 1 kB/s the payload would need 96 s: the test passes only once the throttle is lifted.
      const { bytes } = await download(proxy, (received) => {
        if (received >= 1024) proxy.throttle({});
      });
      expect(bytes.equals(PAYLOAD)).toBe(true);
    } finally {
      await proxy.close();
    }
  });
});
