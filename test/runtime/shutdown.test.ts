/**
 * SIGTERM around a Redis outage: a `mailjobs worker` stops and exits 0 whether Redis is away when
 * the signal comes or has just come back. Before the fix, closing a BullMQ Worker whose blocking
 * connection was waiting to reconnect never ended (ioredis emits no `end` for it), and the process
 * stayed after its "shutting down" line for good. The outage is a TCP proxy between the worker and
 * Redis: down resets every connection, up forwards again, at the moment the test chooses.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { freshPrefix, writeConfig } from '../helpers/runtime.js';
import { exited, loggedWorker, type LoggedWorker } from '../helpers/worker-process.js';
import { SHUTDOWN_REDIS_GRACE_MS } from '../../src/worker/workers.js';

let redis: RedisFixture;
const started: LoggedWorker[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const w of started) if (w.child.exitCode === null) w.child.kill('SIGKILL');
  await redis?.stop();
});

/** A bound, not a measure: the grace for an unreachable Redis plus start-up and exit on a loaded machine. */
const EXIT_BOUND_MS = SHUTDOWN_REDIS_GRACE_MS + 30_000;

/** A worker behind a fresh proxy, running, then in an outage that every connection has felt. */
async function workerInOutage() {
  const proxy = await TcpProxy.start(redis.port);
  const worker = loggedWorker(writeConfig(`redis://127.0.0.1:${proxy.port}`, freshPrefix()));
  started.push(worker);
  await expect.poll(() => worker.count('mailjobs running'), { timeout: 60_000 }).toBe(1);
  proxy.down();
  await expect.poll(() => worker.count('redis unreachable'), { timeout: 30_000 }).toBe(1);
  // Every connection (two per queue) has been reset at least once: all are waiting to reconnect.
  await expect.poll(() => proxy.refused, { timeout: 60_000 }).toBeGreaterThanOrEqual(30);
  return { proxy, worker };
}

/** Sends SIGTERM; resolves with the exit code (fails the test if the worker is still there at the bound). */
async function stop(worker: LoggedWorker): Promise<number | null> {
  worker.child.kill('SIGTERM');
  const gone = () => worker.child.exitCode !== null || worker.child.signalCode !== null;
  await expect.poll(gone, { timeout: EXIT_BOUND_MS }).toBe(true);
  await exited(worker.child);
  return worker.child.exitCode;
}

it('SIGTERM while Redis is away: the worker exits 0 (after its grace for Redis, if anything waited for it)', async () => {
  const { proxy, worker } = await workerInOutage();
  expect(await stop(worker)).toBe(0);
  expect(worker.count('stopped')).toBe(1);
  expect(worker.lines().filter((l) => l.level >= 50)).toEqual([]);
  expect(worker.stderr()).toBe('');
  await proxy.close();
}, 180_000);

it('SIGTERM right after Redis came back: the worker exits 0 without waiting for anything', async () => {
  const { proxy, worker } = await workerInOutage();
  proxy.up();
  await expect.poll(() => worker.count('redis answers again'), { timeout: 30_000 }).toBe(1);
  // Now: the state connection is back, the Workers' connections may still wait for their retry.
  expect(await stop(worker)).toBe(0);
  expect(worker.count('redis still unreachable')).toBe(0);
  expect(worker.count('stopped')).toBe(1);
  expect(worker.lines().filter((l) => l.level >= 50)).toEqual([]);
  expect(worker.stderr()).toBe('');
  await proxy.close();
}, 180_000);
