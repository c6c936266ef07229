/**
 * The Rspamd and clamd adapters against real private instances (test/fixtures): Rspamd with
 * Bayes in a private Redis, clamd with the EICAR test signature.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, ProtocolError } from '../../src/core/errors.js';
import { ClamdClient } from '../../src/mail/clamd.js';
import { learn, scanMessage, stat } from '../../src/mail/rspamd.js';
import { EICAR, startClamd, type ClamdFixture } from '../fixtures/clamd.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { startRspamd, type RspamdFixture } from '../fixtures/rspamd.js';

const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

/** A plain message with enough real words for Bayes (very short ones are refused). */
function message(subject: string, body: string, id: string): Buffer {
  return Buffer.from(
    [
      'From: Alice Example <alice@example.com>',
      'To: Bob Example <bob@example.org>',
      `Subject: ${subject}`,
      `Date: ${new Date().toUTCString()}`,
      `Message-ID: <${id}@example.com>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      body,
      '',
    ].join('\r\n'),
  );
}

const LUNCH_ID = `lunch-${Date.now()}`;
const LUNCH = message(
  'Lunch on Thursday',
  'Hi Bob,\r\n\r\nare we still on for lunch on Thursday? I was thinking about the new Italian place near\r\n' +
    'the station. They have a nice terrace and the pasta is supposed to be excellent.\r\n' +
    'Let me know if noon works for you.\r\n\r\nCheers,\r\nAlice',
  LUNCH_ID,
);

const OFFER = message(
  'Exclusive offer for our valued customers',
  'Dear customer,\r\n\r\nour warehouse clearance continues this week with discounts on watches, handbags,\r\n' +
    'sunglasses and many other premium accessories. Order today and receive free shipping\r\n' +
    'worldwide, plus a surprise gift with every purchase over fifty dollars. This limited\r\n' +
    'promotion ends on Sunday, so visit our online store before the stock runs out.\r\n\r\n' +
    'Best regards,\r\nThe Sales Team',
  `offer-${Date.now()}`,
);

let redis: RedisFixture | undefined;
let rspamd: RspamdFixture | undefined;
let clamd: ClamdFixture | undefined;

beforeAll(async () => {
  const timed = async <T>(name: string, start: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    const started = await start();
    console.log(`[scanners] ${name} started in ${Date.now() - t0} ms`);
    return started;
  };
  redis = await timed('redis', startRedis);
  const redisUrl = redis.url;
  [rspamd, clamd] = await Promise.all([
    timed('rspamd', () => startRspamd({ redisUrl })),
    timed('clamd', () => startClamd({ streamMaxLength: '1M' })),
  ]);
}, 150_000);

afterAll(async () => {
  // Try every stop even if one fails.
  const results = await Promise.allSettled([rspamd?.stop(), clamd?.stop()]);
  results.push(...(await Promise.allSettled([redis?.stop()])));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
});

/** The controller's history row for a message id; history is written just after the scan. */
async function historyRow(messageId: string): Promise<Record<string, unknown> | undefined> {
  let row: Record<string, unknown> | undefined;
  const read = async () => {
    const res = await fetch(`${rspamd!.controllerUrl}/history`, { headers: { Password: rspamd!.password } });
    const { rows } = (await res.json()) as { rows: Array<Record<string, unknown>> };
    return (row = rows.find((r) => r['message-id'] === `${messageId}@example.com`));
  };
  await expect.poll(read, { timeout: 30_000 }).toBeDefined();
  return row;
}

describe('rspamd', () => {
  const scan = (msg: Buffer) =>
    scanMessage(
      msg,
      {
        from: 'alice@example.com',
        rcpt: ['bob@example.org', 'carol@example.org'],
        ip: '192.0.2.10',
        helo: 'mail.example.com',
        queueId: 'ABC123',
      },
      { url: rspamd!.normalUrl, timeoutMs: 20_000 },
    );

  it('scans an ordinary message as not spam, with a numeric score', async () => {
    const result = await scan(LUNCH);
    expect(result.isSpam, rspamd!.log()).toBe(false);
    expect(result.action).toBe('no action');
    expect(Number.isFinite(result.score)).toBe(true);
    expect(result.requiredScore).toBeGreaterThan(0);
    // The verdict does not echo the envelope; the controller's history (kept in Redis) does.
    const row = await historyRow(LUNCH_ID);
    expect(row).toMatchObject({
      sender_smtp: 'alice@example.com',
      rcpt_smtp: ['bob@example.org', 'carol@example.org'],
      ip: '192.0.2.10',
    });
  });

  it('scans GTUBE as reject, spam', async () => {
    const result = await scan(
      message('Test', `This is the GTUBE.\r\n\r\n${GTUBE}\r\n`, `gtube-${Date.now()}`),
    );
    expect(result.action).toBe('reject');
    expect(result.isSpam).toBe(true);
    expect(Object.keys(result.symbols)).toContain('GTUBE');
  });

  it('learns spam once, then answers alreadyLearned, and the spam count rises by one', async () => {
    const opts = { controllerUrl: rspamd!.controllerUrl, password: rspamd!.password };
    const before = await stat(opts);
    expect(await learn('spam', OFFER, opts)).toEqual({ learned: true, alreadyLearned: false });
    expect(await learn('spam', OFFER, opts)).toMatchObject({ learned: false, alreadyLearned: true });
    expect((await stat(opts)).learnedSinceStart).toBe(before.learnedSinceStart + 1);
    // The statfile counts come from Redis, which the controller re-reads every 30-60 s.
    let now = await stat(opts);
    await expect
      .poll(async () => (now = await stat(opts)).spam, { timeout: 100_000, interval: 1000 })
      .not.toBe(before.spam);
    expect(now.spam).toBe(before.spam + 1);
    expect(now.ham).toBe(before.ham);
  }, 120_000);

  it('reports a message too short for Bayes as not learned, with the reason', async () => {
    const opts = { controllerUrl: rspamd!.controllerUrl, password: rspamd!.password };
    const short = message('hi', 'hello there', `short-${Date.now()}`);
    const result = await learn('ham', short, opts);
    expect(result).toMatchObject({ learned: false, alreadyLearned: false });
    expect(result.reason).toMatch(/less tokens/);
  });

  it('refuses a wrong controller password with AuthenticationError', async () => {
    const err = await stat({ controllerUrl: rspamd!.controllerUrl, password: 'wrong' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AuthenticationError);
  });
});

describe('clamd', () => {
  const viaSocket = () => new ClamdClient({ socket: clamd!.socket });
  const viaTcp = () => new ClamdClient({ host: '127.0.0.1', port: clamd!.port });

  it('finds EICAR over the local socket (buffer) and over TCP (stream)', async () => {
    const a = await viaSocket().scanStream(Buffer.from(EICAR), { timeoutMs: 10_000 });
    expect(a.infected, clamd!.log()).toBe(true);
    expect(a.virus).toMatch(/eicar/i);
    const b = await viaTcp().scanStream(Readable.from([Buffer.from(EICAR)]), { timeoutMs: 10_000 });
    expect(b).toEqual(a);
  });

  it('passes a clean buffer', async () => {
    expect(await viaSocket().scanStream(LUNCH, { timeoutMs: 10_000 })).toEqual({ infected: false });
  });

  it('throws ESIZE over StreamMaxLength (1M here)', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 'a');
    // Told the limit, the client enforces it itself: deterministic on both transports.
    const opts = { timeoutMs: 10_000, maxStreamBytes: 1024 * 1024 };
    for (const client of [viaSocket(), viaTcp()]) {
      await expect(client.scanStream(big, opts)).rejects.toMatchObject({ code: 'ESIZE' });
      expect(await client.scanStream(Buffer.alloc(1024 * 1024, 'a'), opts)).toEqual({ infected: false });
    }
    // Left to clamd, its "size limit exceeded" answer is sometimes lost (see maxStreamBytes).
    for (const client of [viaSocket(), viaTcp()]) {
      const err = await client.scanStream(big, { timeoutMs: 10_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProtocolError);
      expect(['ESIZE', 'ECONNECTION']).toContain((err as ProtocolError).code);
    }
  });

  it('answers PING, VERSION and RELOAD', async () => {
    const client = viaSocket();
    await client.ping();
    const version = await client.version();
    expect(version.engine).toMatch(/^\d+\.\d+\.\d+/);
    expect(version.dbVersion).toBe(clamd!.dbVersion);
    expect(version.dbDate).toBeInstanceOf(Date);
    const { done } = clamd!.reloads();
    await client.reload();
    await clamd!.waitForReloads(done + 1);
    expect(clamd!.log(5)).toMatch(/Database correctly reloaded/);
    expect((await viaTcp().scanStream(Buffer.from(EICAR), { timeoutMs: 10_000 })).infected).toBe(true);
  });

  it('throws ECONNECTION once clamd is stopped', async () => {
    const [socketClient, tcpClient] = [viaSocket(), viaTcp()];
    await clamd!.stop();
    clamd = undefined;
    for (const client of [socketClient, tcpClient]) {
      const err = await client.scanStream(Buffer.from(EICAR), { timeoutMs: 5000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProtocolError);
      expect(err).toMatchObject({ code: 'ECONNECTION' });
    }
  });
});
