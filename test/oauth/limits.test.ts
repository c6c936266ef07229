/**
 * Provider limits, played by a tiny fake POP3 server: Microsoft 365's throttling answer
 * (`Request is throttled. Suggested Backoff Time: N milliseconds`) makes the job wait that long
 * and try again, without spending an attempt and without failing; a spent daily budget pauses
 * the account until midnight UTC, and its runs meanwhile end at once without connecting.
 */
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RemoteHostSessions } from '../../src/core/host-sessions.js';
import { stateKey } from '../../src/core/redis.js';
import { getmailJob } from '../../src/jobs/getmail/index.js';
import { registry } from '../../src/jobs/registry.js';
import { type DovecotFixture, startDovecot } from '../fixtures/dovecot.js';
import { type RedisFixture, startRedis } from '../fixtures/redis.js';
import { runGetmail, writeWorldConfig } from '../getmail/world.js';
import { type JobClient, openJobClient } from '../helpers/job-client.js';
import { startTestWorkers } from '../helpers/runtime.js';

const BACKOFF_MS = 600_000;

let redis: RedisFixture;
let local: DovecotFixture;
let server: Server;
const sockets = new Set<Socket>();
let logins = 0;
/** What the server answers to PASS. */
let passAnswer = '';

/** Greets, answers CAPA and USER, and refuses PASS with `passAnswer`. */
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
          socket.write(`${passAnswer}\r\n`);
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

/** A connector fetching from the fake server into a new local user; its config file. */
async function connectorConfig(name: string): Promise<{ id: string; file: string }> {
  const port = (server.address() as AddressInfo).port;
  const { user } = await local.addUser(name);
  const id = `${name}@remote.test`;
  const file = writeWorldConfig({ redis, local, remote: local, stop: async () => undefined }, [
    { id, protocol: 'pop3', security: 'none', port, user: name, password: 'pw', deliverTo: user },
  ]);
  return { id, file };
}

async function withWorkers<T>(file: string, use: (client: JobClient) => Promise<T>): Promise<T> {
  const client = await openJobClient(redis.url, file, getmailJob);
  const workers = startTestWorkers(
    { config: client.config, redisSettings: { url: redis.url }, redis: client.redis },
    registry.filter((j) => j.name === 'getmail'),
  );
  try {
    return await use(client);
  } finally {
    await workers.close();
    await client.close();
  }
}

describe('provider limits', () => {
  it('a throttling answer delays the job by the time the server names, without spending an attempt', async () => {
    passAnswer = `-ERR Request is throttled. Suggested Backoff Time: ${BACKOFF_MS} milliseconds`;
    const { id, file } = await connectorConfig('busy');
    await withWorkers(file, async (client) => {
      const before = logins;
      const queued = await client.enqueue({ account: id });
      const job = (await client.queue.getJob(queued.jobId))!;
      const started = Date.now();
      await expect.poll(() => logins, { timeout: 20_000 }).toBe(before + 1);
      await expect.poll(() => job.getState(), { timeout: 20_000 }).toBe('delayed');
      const delayed = (await client.queue.getJob(queued.jobId))!;
      expect(delayed.attemptsMade).toBe(0);
      expect(delayed.failedReason).toBeFalsy();
      // Due when the server said, not at the retry policy's 30 s backoff.
      const due = delayed.timestamp + delayed.delay;
      expect(due).toBeGreaterThanOrEqual(started + BACKOFF_MS - 1000);
      expect(due).toBeLessThanOrEqual(Date.now() + BACKOFF_MS);
    });
  });

  it('a spent daily budget pauses the account until the next day: later runs do not connect', async () => {
    passAnswer = '-ERR [SYS/PERM] Account exceeded command or bandwidth limits';
    const { id, file } = await connectorConfig('spent');
    await withWorkers(file, async (client) => {
      const before = logins;
      const queued = await client.enqueue({ account: id });
      const job = (await client.queue.getJob(queued.jobId))!;
      await expect.poll(() => job.getState(), { timeout: 20_000 }).toBe('delayed');
      const delayed = (await client.queue.getJob(queued.jobId))!;
      const midnight = new Date();
      midnight.setUTCHours(24, 0, 0, 0);
      expect(delayed.timestamp + delayed.delay).toBeGreaterThan(midnight.getTime() - 1000);
      expect(delayed.timestamp + delayed.delay).toBeLessThan(midnight.getTime() + 1000);
      expect(logins).toBe(before + 1);
    });
    const later = await runGetmail(file, id);
    expect(later.code).toBe(0);
    expect(later.result!.skipped).toMatch(
      /^paused until \d{4}-\d\d-\d\dT00:00:00\.\d{3}Z: the provider's daily limit/,
    );
    const count = logins;
    await runGetmail(file, id);
    expect(logins).toBe(count);
  });

  it('a remote host takes at most remoteSessionsPerHost sessions at once, across processes', async () => {
    const key = (...parts: string[]) => stateKey('tcap', ...parts);
    const [ra, rb] = [new Redis(redis.url), new Redis(redis.url)];
    let attempts = 0;
    const evalOf = rb.eval.bind(rb) as (...args: unknown[]) => Promise<unknown>;
    (rb as unknown as { eval: typeof evalOf }).eval = (...args) => {
      attempts++;
      return evalOf(...args);
    };
    try {
      const first = await new RemoteHostSessions(ra, key, 1).acquire('Outlook.Office365.com');
      let second: (() => Promise<void>) | undefined;
      const waiting = new RemoteHostSessions(rb, key, 1)
        .acquire('outlook.office365.com')
        .then((r) => (second = r));
      // Refused twice (the slot is taken), and still waiting.
      await expect.poll(() => attempts).toBeGreaterThanOrEqual(2);
      expect(second).toBeUndefined();
      // Another host is not held up.
      const other = await new RemoteHostSessions(ra, key, 1).acquire('imap.gmail.com');
      await first();
      await waiting;
      expect(await ra.zcard(key('remote-sessions', 'outlook.office365.com'))).toBe(1);
      await second!();
      await other();
      expect(await ra.zcard(key('remote-sessions', 'outlook.office365.com'))).toBe(0);
    } finally {
      await Promise.all([ra.quit(), rb.quit()]);
    }
  });
});
