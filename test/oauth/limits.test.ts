/**
 * Provider limits: a server that answers like Microsoft 365 when it throttles (`Request is
 * throttled. Suggested Backoff Time: N milliseconds`, here a tiny fake POP3 server) makes the
 * job wait that long and try again, without spending an attempt and without failing.
 */
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getmailJob } from '../../src/jobs/getmail/index.js';
import { registry } from '../../src/jobs/registry.js';
import { startWorkers } from '../../src/worker/workers.js';
import { type DovecotFixture, startDovecot } from '../fixtures/dovecot.js';
import { type RedisFixture, startRedis } from '../fixtures/redis.js';
import { writeWorldConfig } from '../getmail/world.js';
import { openJobClient } from '../helpers/job-client.js';
import { silentLog } from '../helpers/runtime.js';

const BACKOFF_MS = 600_000;

let redis: RedisFixture;
let local: DovecotFixture;
let server: Server;
const sockets = new Set<Socket>();
let logins = 0;

/** Greets, answers CAPA, USER, and refuses PASS as a throttled Exchange Online would. */
function throttlingPop3(): Server {
  return createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.write('+OK ready\r\n');
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      for (let nl = buffered.indexOf('\r\n'); nl >= 0; nl = buffered.indexOf('\r\n')) {
        const [verb = ''] = buffered.slice(0, nl).split(' ');
        buffered = buffered.slice(nl + 2);
        if (verb === 'CAPA') socket.write('+OK\r\nUSER\r\n.\r\n');
        else if (verb === 'USER') socket.write('+OK\r\n');
        else if (verb === 'PASS') {
          logins++;
          socket.write(`-ERR Request is throttled. Suggested Backoff Time: ${BACKOFF_MS} milliseconds\r\n`);
        } else if (verb === 'QUIT') socket.end('+OK bye\r\n');
        else socket.write('-ERR unknown\r\n');
      }
    });
  });
}

beforeAll(async () => {
  [redis, local] = await Promise.all([startRedis(), startDovecot()]);
  server = throttlingPop3();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await Promise.allSettled([redis?.stop(), local?.stop()]);
});

describe('provider limits', () => {
  it('a throttling answer delays the job by the time the server names, without spending an attempt', async () => {
    const port = (server.address() as AddressInfo).port;
    const { user } = await local.addUser('busy');
    const connector = { id: 'busy@remote.test', protocol: 'pop3' as const, security: 'none' as const };
    const file = writeWorldConfig({ redis, local, remote: local, stop: async () => undefined }, [
      { ...connector, port, user: 'busy', password: 'pw', deliverTo: user },
    ]);
    const client = await openJobClient(redis.url, file, getmailJob);
    const workers = startWorkers({
      jobs: registry.filter((j) => j.name === 'getmail'),
      config: () => client.config,
      redisSettings: { url: redis.url },
      redis: client.redis,
      log: silentLog,
    });
    try {
      const queued = await client.enqueue({ account: 'busy@remote.test' });
      const job = (await client.queue.getJob(queued.jobId))!;
      const started = Date.now();
      await expect.poll(() => logins, { timeout: 20_000 }).toBe(1);
      await expect.poll(() => job.getState(), { timeout: 20_000 }).toBe('delayed');
      const delayed = (await client.queue.getJob(queued.jobId))!;
      expect(delayed.attemptsMade).toBe(0);
      expect(delayed.failedReason).toBeFalsy();
      // Due when the server said, not at the retry policy's 30 s backoff.
      const due = delayed.timestamp + delayed.delay;
      expect(due).toBeGreaterThanOrEqual(started + BACKOFF_MS - 1000);
      expect(due).toBeLessThanOrEqual(Date.now() + BACKOFF_MS);
    } finally {
      await workers.close();
      await client.close();
    }
  });
});
