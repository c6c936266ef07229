import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthenticationError, ProtocolError } from '../core/errors.js';
import { envelopeHeaders, isSpamAction, learn, scanMessage, spamHeaders, stat } from './rspamd.js';

describe('spamHeaders', () => {
  const spam = { action: 'add header', score: 7.2, requiredScore: 15, isSpam: true };
  const ham = { action: 'no action', score: -0.1, requiredScore: 15, isSpam: false };

  it('flags spam with X-Spam: Yes and a SpamAssassin-style status', () => {
    expect(spamHeaders(spam)).toEqual([
      'X-Spam: Yes',
      'X-Spam-Status: Yes, score=7.20 required=15.00',
      'X-Spam-Score: 7.20',
      'X-Spam-Action: add header',
    ]);
  });

  it('gives ham a status but no X-Spam flag (the Sieve rule tests X-Spam: Yes only)', () => {
    expect(spamHeaders(ham)).toEqual([
      'X-Spam-Status: No, score=-0.10 required=15.00',
      'X-Spam-Score: -0.10',
      'X-Spam-Action: no action',
    ]);
  });

  it('rewrites the subject of spam only, when a prefix is configured', () => {
    expect(spamHeaders(spam, { subjectPrefix: '***SPAM***', subject: 'Cheap pills' })).toContain(
      'Subject: ***SPAM*** Cheap pills',
    );
    expect(
      spamHeaders(ham, { subjectPrefix: '***SPAM***', subject: 'Hi' }).some((l) => l.startsWith('Subject:')),
    ).toBe(false);
    expect(spamHeaders(spam, { subject: 'Hi' }).some((l) => l.startsWith('Subject:'))).toBe(false);
  });

  it('does not prefix twice, unfolds, and gives a subject-less message the prefix alone', () => {
    const lines = (subject?: string): string[] => spamHeaders(spam, { subjectPrefix: '[SPAM]', subject });
    expect(lines('[SPAM] again').some((l) => l.startsWith('Subject:'))).toBe(false);
    expect(lines('a long\r\n  folded subject')).toContain('Subject: [SPAM] a long  folded subject');
    expect(lines('evil\r\nX-Spam: No')).toContain('Subject: [SPAM] evil X-Spam: No');
    expect(lines(undefined)).toContain('Subject: [SPAM]');
  });

  it('encodes a non-ASCII prefix as an RFC 2047 word', () => {
    expect(spamHeaders(spam, { subjectPrefix: 'Pourriel™', subject: 'x' })).toContain(
      `Subject: =?UTF-8?B?${Buffer.from('Pourriel™').toString('base64')}?= x`,
    );
  });

  it('treats reject and rewrite subject as spam, soft reject and greylist as not', () => {
    expect(['reject', 'rewrite subject', 'add header'].map(isSpamAction)).toEqual([true, true, true]);
    expect(['no action', 'greylist', 'soft reject'].map(isSpamAction)).toEqual([false, false, false]);
  });
});

describe('envelopeHeaders', () => {
  it('sends known fields only, one Rcpt per recipient, <> for the null sender', () => {
    expect(envelopeHeaders({ from: '', rcpt: ['a@x', 'b@x'], ip: '192.0.2.1', queueId: 'Q1' })).toEqual({
      From: '<>',
      Rcpt: ['a@x', 'b@x'],
      IP: '192.0.2.1',
      'Queue-Id': 'Q1',
    });
    expect(envelopeHeaders({})).toEqual({});
  });

  it('refuses a line break that would smuggle a header', () => {
    expect(() => envelopeHeaders({ helo: 'x\r\nPassword: y' })).toThrow(/envelope.helo/);
  });
});

describe('HTTP exchanges against a fake Rspamd', () => {
  let server: http.Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  /** Starts a server answering every request with `handler`; resolves its base URL. */
  const fake = async (handler: http.RequestListener): Promise<string> => {
    server = http.createServer(handler);
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const reply =
    (status: number, body: unknown, reason?: string): http.RequestListener =>
    (req, res) => {
      req.resume();
      req.on('end', () =>
        res.writeHead(status, reason, { 'Content-Type': 'application/json' }).end(JSON.stringify(body)),
      );
    };

  it('parses a checkv2 verdict and sends the envelope headers', async () => {
    let seen: http.IncomingHttpHeaders = {};
    const url = await fake((req, res) => {
      seen = req.headers;
      reply(200, {
        action: 'reject',
        score: 1000,
        required_score: 15,
        symbols: { GTUBE: { score: 0, options: ['x'] } },
      })(req, res);
    });
    const result = await scanMessage(
      Buffer.from('Subject: x\r\n\r\nbody\r\n'),
      { from: 'a@x', rcpt: 'b@y' },
      { url, timeoutMs: 2000 },
    );
    expect(result).toMatchObject({
      action: 'reject',
      score: 1000,
      requiredScore: 15,
      isSpam: true,
      skipped: false,
    });
    expect(result.symbols.GTUBE).toEqual({ name: 'GTUBE', score: 0, options: ['x'] });
    expect(seen).toMatchObject({ from: 'a@x', rcpt: 'b@y' });
  });

  it('maps 200 to learned, 208 to alreadyLearned', async () => {
    let status = 200;
    const url = await fake((req, res) =>
      reply(status, status === 200 ? { success: true } : { error: 'already' })(req, res),
    );
    const opts = { controllerUrl: url, password: 'pw' };
    expect(await learn('spam', Buffer.from('m'), opts)).toEqual({ learned: true, alreadyLearned: false });
    status = 208;
    expect(await learn('spam', Buffer.from('m'), opts)).toEqual({
      learned: false,
      alreadyLearned: true,
      reason: 'already',
    });
  });

  it('reads the 204 "too few tokens" answer, although Rspamd sends it with a body', async () => {
    // Byte for byte what Rspamd 3.4 answers; Node's HTTP parser rejects the body of a 204.
    const reason = '<x1@example.com> contains less tokens than required for bayes classifier: 4 < 11';
    const raw = net.createServer((conn) => {
      conn.on('error', () => undefined);
      conn.once('data', () =>
        conn.end(
          `HTTP/1.1 204 ${reason}\r\nConnection: close\r\nServer: rspamd/3.4\r\nContent-Length: 92\r\n` +
            `Content-Type: application/json\r\n\r\n${JSON.stringify({ error: reason }).padEnd(92)}`,
        ),
      );
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    const controllerUrl = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
    try {
      expect(await learn('spam', Buffer.from('m'), { controllerUrl, password: 'pw' })).toEqual({
        learned: false,
        alreadyLearned: false,
        reason,
      });
    } finally {
      await new Promise<void>((r) => raw.close(() => r()));
    }
  });

  it('reads spam and ham counts from the statfiles', async () => {
    const statfiles = [
      { symbol: 'BAYES_SPAM', revision: 3 },
      { symbol: 'BAYES_HAM', revision: 5 },
    ];
    const url = await fake(reply(200, { learned: 2, total_learns: 8, statfiles }));
    expect(await stat({ controllerUrl: url, password: 'pw' })).toEqual({
      spam: 3,
      ham: 5,
      total: 8,
      learnedSinceStart: 2,
    });
  });

  it('throws AuthenticationError on 401 without the password in the message', async () => {
    const url = await fake(reply(401, { error: 'Unauthorized' }));
    const err = await learn('ham', Buffer.from('m'), { controllerUrl: url, password: 'sekrit-pw' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(String((err as Error).message)).not.toContain('sekrit-pw');
  });

  it('throws EPROTOCOL with the status on 5xx and on a body that is not a verdict', async () => {
    let status = 500;
    const url = await fake((req, res) =>
      reply(status, status === 500 ? { error: 'boom' } : { nope: 1 })(req, res),
    );
    await expect(scanMessage(Buffer.from('m'), {}, { url, timeoutMs: 2000 })).rejects.toMatchObject({
      code: 'EPROTOCOL',
      responseCode: 500,
    });
    status = 200;
    await expect(scanMessage(Buffer.from('m'), {}, { url, timeoutMs: 2000 })).rejects.toMatchObject({
      code: 'EPROTOCOL',
    });
  });

  it('throws ETIMEOUT when no answer comes, ECONNECTION when nothing listens', async () => {
    const url = await fake((req) => req.resume()); // never answers
    await expect(scanMessage(Buffer.from('m'), {}, { url, timeoutMs: 100 })).rejects.toMatchObject({
      code: 'ETIMEOUT',
    });
    await new Promise<void>((r) => server?.close(() => r()));
    server = undefined;
    const err = await scanMessage(Buffer.from('m'), {}, { url, timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toMatchObject({ code: 'ECONNECTION' });
  });

  it('rejects with the abort reason when the caller aborts', async () => {
    const ac = new AbortController();
    // Aborted once the request is under way, whatever the machine's speed.
    const url = await fake((req) => {
      req.resume();
      ac.abort(new Error('cancelled'));
    });
    await expect(
      scanMessage(Buffer.from('m'), {}, { url, timeoutMs: 5000, signal: ac.signal }),
    ).rejects.toThrow('cancelled');
  });
});
