/**
 * How a scanner's failure is classified, against a fake Rspamd over HTTP (the real client):
 * an error for one message while `/ping` answers fails that message; an error on `/ping` too,
 * or no answer at all, is the scanner's and stops the run.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../config/load.js';
import { MessageError, ProtocolError } from '../../core/errors.js';
import { MessageSpool } from '../../mail/spool.js';
import { applyFilters } from './filters.js';

let server: http.Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** A fake Rspamd: `/checkv2` answers 500 for a message holding "POISON", `/ping` as `pingStatus` says. */
async function fakeRspamd(pingStatus: number): Promise<string> {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/ping') return res.writeHead(pingStatus).end(pingStatus === 200 ? 'pong\r\n' : '');
      if (Buffer.concat(chunks).includes('POISON'))
        return res.writeHead(500).end(JSON.stringify({ error: 'cannot parse MIME' }));
      res.writeHead(200).end(JSON.stringify({ action: 'no action', score: 0, required_score: 15 }));
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function scan(url: string, body: string) {
  const config = parseConfig(
    [
      `rspamd: { url: "${url}", timeoutSeconds: 5 }`,
      'connectors:',
      '  - { id: a@remote.test, protocol: pop3, host: 127.0.0.1, username: a, password: x, deliverTo: a, filters: { antispam: true } }',
    ].join('\n'),
    '/tmp/mailjobs-filters-test.yaml',
    {},
  );
  const spool = new MessageSpool();
  await spool.write(Buffer.from(`Subject: t\r\n\r\n${body}\r\n`));
  await spool.close();
  try {
    const signal = new AbortController().signal;
    return await applyFilters(
      spool,
      { from: '', rcpt: 'a@remote.test' },
      't',
      config.connectors[0]!,
      config,
      signal,
    );
  } finally {
    await spool.dispose();
  }
}

describe('applyFilters: whose failure is it', () => {
  it('an Rspamd error for one message while it answers a ping fails that message only', async () => {
    const url = await fakeRspamd(200);
    await expect(scan(url, 'hello')).resolves.toMatchObject({ kind: 'deliver', spam: false });
    const err = await scan(url, 'POISON').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MessageError);
    expect(err).toMatchObject({
      code: 'EPROTOCOL',
      message: 'antispam (rspamd) failed on this message (rspamd /checkv2: HTTP 500 cannot parse MIME)',
    });
  });

  it('an Rspamd that errs on its ping too, or does not answer, stops the run', async () => {
    const url = await fakeRspamd(503);
    const err = await scan(url, 'POISON').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toMatchObject({ code: 'ESCANNER', cause: { code: 'EPROTOCOL', responseCode: 500 } });
    server!.close();
    const down = await scan(url, 'hello').catch((e: unknown) => e);
    expect(down).toMatchObject({ name: 'ProtocolError', code: 'ESCANNER', cause: { name: 'ProtocolError' } });
  });
});
