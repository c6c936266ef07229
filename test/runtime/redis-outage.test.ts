/**
 * A `mailjobs worker` process while its Redis goes away and comes back, twice: its log stays
 * JSON (no multi-line error dumps on stdout or stderr) and says each outage once, however many
 * times its connections retried meanwhile, then once that Redis answers again. The retries are
 * counted by a plain TCP listener that takes Redis's port while it is down and hangs up on every
 * connection: the test waits until each outage saw many of them, no fixed sleep.
 */
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRestartableRedis, type RestartableRedis } from '../junk/restartable-redis.js';
import { freshPrefix, writeConfig } from '../helpers/runtime.js';
import { exited, loggedWorker, type LoggedWorker } from '../helpers/worker-process.js';

let redis: RestartableRedis;
let worker: LoggedWorker | undefined;
beforeAll(async () => {
  redis = await startRestartableRedis();
});
afterAll(async () => {
  if (worker?.child.exitCode === null) worker.child.kill('SIGKILL');
  await redis?.stop();
});

/** Takes `port` while Redis is down; counts the connections it hangs up on. */
async function hangUpOn(port: number): Promise<{ readonly attempts: number; close(): Promise<void> }> {
  let attempts = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    attempts++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.destroy();
  });
  await new Promise<void>((resolve, reject) =>
    server.once('error', reject).listen(port, '127.0.0.1', resolve),
  );
  return {
    get attempts() {
      return attempts;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

it('logs one JSON warn line per Redis outage and one info line when it is back, not one per retry', async () => {
  const port = Number(new URL(redis.url).port);
  worker = loggedWorker(writeConfig(redis.url, freshPrefix()));
  const { lines, count } = worker;
  await expect.poll(() => count('mailjobs running'), { timeout: 60_000 }).toBe(1);

  for (const outage of [1, 2]) {
    await redis.down();
    const listener = await hangUpOn(port);
    await expect.poll(() => count('redis unreachable'), { timeout: 30_000 }).toBe(outage);
    // Every connection of the worker keeps retrying: many attempts, still one line.
    await expect.poll(() => listener.attempts, { timeout: 60_000 }).toBeGreaterThanOrEqual(20);
    expect(count('redis unreachable')).toBe(outage);
    await listener.close();
    await redis.up();
    await expect.poll(() => count('redis answers again'), { timeout: 30_000 }).toBe(outage);
  }
  const back = lines().filter((l) => l.msg === 'redis answers again');
  for (const l of back) expect(l.errors).toBeGreaterThan(1);
  expect(lines().find((l) => l.msg.startsWith('redis unreachable'))).toMatchObject({
    level: 40,
    redis: redis.url,
  });
  expect(count('redis error')).toBe(0);

  // SIGTERM right after Redis came back: the worker stops (test/runtime/shutdown.test.ts has the cases).
  worker.child.kill('SIGTERM');
  await exited(worker.child);
  expect(worker.child.exitCode).toBe(0);
  expect(count('stopped')).toBe(1);
  expect(worker.stderr()).toBe(''); // no console dumps: everything went through the JSON log
}, 240_000);
