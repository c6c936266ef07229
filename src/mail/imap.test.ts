import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  InvalidPayloadError,
  PermanentJobError,
  ProtocolError,
} from '../core/errors.js';
import {
  type ImapConnectOptions,
  classifyImapError,
  connectImap,
  openFolder,
  imapFlowOptions,
  masterUserLogin,
  uidSets,
} from './imap.js';

const ctx = { host: 'imap.example.org', user: 'alice@example.org' };

/** An error shaped like the ones imapflow 2.x / Node throw (as observed against Dovecot 2.3). */
function imapError(message: string, props: Record<string, unknown>): Error {
  return Object.assign(new Error(message), props);
}

function classified(err: unknown): Error {
  return classifyImapError(err, ctx);
}

describe('classifyImapError', () => {
  it('turns a refused login into an AuthenticationError naming user and host, not the password', () => {
    const err = imapError('Command failed', {
      response: '2 NO [AUTHENTICATIONFAILED] Authentication failed.',
      responseStatus: 'NO',
      executedCommand: '2 AUTHENTICATE PLAIN',
      responseText: 'Authentication failed.',
      serverResponseCode: 'AUTHENTICATIONFAILED',
      authenticationFailed: true,
    });
    const out = classified(err);
    expect(out).toBeInstanceOf(AuthenticationError);
    expect(out).toBeInstanceOf(PermanentJobError); // the worker fails it as UnrecoverableError: no retry storm
    expect(out).toMatchObject({ code: 'EAUTH', name: 'AuthenticationError' });
    expect(out.message).toBe(
      'IMAP login as alice@example.org at imap.example.org refused: [AUTHENTICATIONFAILED] Authentication failed.',
    );
    expect(out.cause).toBe(err);
  });

  it('treats a login refusal without a response code (Gmail app passwords) as permanent too', () => {
    const err = imapError('Command failed', {
      responseStatus: 'NO',
      responseText: '[ALERT] Application-specific password required',
      authenticationFailed: true,
    });
    expect(classified(err)).toBeInstanceOf(AuthenticationError);
  });

  it('keeps RFC 5530 UNAVAILABLE (auth backend down) retryable', () => {
    const err = imapError('Command failed', {
      responseStatus: 'NO',
      responseText: 'Temporary authentication failure.',
      serverResponseCode: 'UNAVAILABLE',
      authenticationFailed: true,
    });
    const out = classified(err);
    expect(out).toBeInstanceOf(ProtocolError);
    expect(out).toMatchObject({ code: 'EPROTOCOL' });
    expect(out.message).toContain('alice@example.org at imap.example.org');
  });

  it('reports certificate problems as ETLS naming host and reason (implicit TLS and STARTTLS)', () => {
    const implicit = imapError('self-signed certificate', { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    const starttls = imapError('self-signed certificate', {
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
      tlsFailed: true,
    });
    for (const err of [implicit, starttls]) {
      const out = classified(err);
      expect(out).toBeInstanceOf(ProtocolError);
      expect(out).toMatchObject({ code: 'ETLS' });
      expect(out.message).toBe(
        'IMAP imap.example.org: TLS failed: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)',
      );
    }
    for (const code of [
      'CERT_HAS_EXPIRED',
      'ERR_TLS_CERT_ALTNAME_INVALID',
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    ]) {
      expect(classified(imapError('bad certificate', { code }))).toMatchObject({ code: 'ETLS' });
    }
  });

  it('reports TLS spoken to a cleartext port and a missing STARTTLS as ETLS', () => {
    const wrongPort = imapError('...:ssl3_get_record:wrong version number', {
      library: 'SSL routines',
      reason: 'wrong version number',
      code: 'ERR_SSL_WRONG_VERSION_NUMBER',
    });
    expect(classified(wrongPort)).toMatchObject({ code: 'ETLS' });
    const noStarttls = imapError('Server does not support STARTTLS', { tlsFailed: true });
    const out = classified(noStarttls);
    expect(out).toMatchObject({ code: 'ETLS' });
    expect(out.message).toBe('IMAP imap.example.org: TLS failed: Server does not support STARTTLS');
  });

  it('reports refused, reset and lost connections as ECONNECTION, with the server BYE reason', () => {
    const refused = imapError('connect ECONNREFUSED 127.0.0.1:1', {
      code: 'ECONNREFUSED',
      syscall: 'connect',
    });
    expect(classified(refused)).toMatchObject({ code: 'ECONNECTION' });
    expect(classified(refused).message).toContain('imap.example.org');
    expect(classified(imapError('read ECONNRESET', { code: 'ECONNRESET' }))).toMatchObject({
      code: 'ECONNECTION',
    });
    expect(classified(imapError('getaddrinfo ENOTFOUND x', { code: 'ENOTFOUND' }))).toMatchObject({
      code: 'ECONNECTION',
    });
    const bye = classified(
      imapError('Connection not available', { code: 'NoConnection', reason: 'Too many connections' }),
    );
    expect(bye).toMatchObject({ code: 'ECONNECTION' });
    expect(bye.message).toContain('server said "Too many connections"');
    expect(classified(imapError('Unexpected close', { code: 'ClosedAfterConnectTLS' }))).toMatchObject({
      code: 'ECONNECTION',
    });
  });

  it('reports connect, greeting, upgrade and socket timeouts as ETIMEOUT', () => {
    for (const code of ['CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'ETIMEOUT', 'ETIMEDOUT']) {
      expect(classified(imapError('timed out', { code }))).toMatchObject({ code: 'ETIMEOUT' });
    }
    // imapflow marks a STARTTLS upgrade that timed out tlsFailed as well: still a timeout.
    const upgrade = imapError('Failed to upgrade connection in required time', {
      code: 'UPGRADE_TIMEOUT',
      tlsFailed: true,
    });
    expect(classified(upgrade)).toMatchObject({ code: 'ETIMEOUT' });
  });

  it('reports a refused command and an unparsable response as EPROTOCOL', () => {
    const no = imapError('Command failed', {
      responseStatus: 'NO',
      responseText: 'Mailbox does not exist: Nope',
      serverResponseCode: 'NONEXISTENT',
      executedCommand: '5 SELECT Nope',
      mailboxMissing: true,
    });
    const out = classified(no);
    expect(out).toMatchObject({ code: 'EPROTOCOL' });
    expect(out.message).toBe(
      'IMAP imap.example.org: SELECT Nope refused: NO [NONEXISTENT] Mailbox does not exist: Nope',
    );
    expect(classified(imapError('Unexpected token', { code: 'ParserError7' }))).toMatchObject({
      code: 'EPROTOCOL',
    });
    expect(classified(imapError('Message disappeared', { code: 'DownloadIncomplete' }))).toMatchObject({
      code: 'EPROTOCOL',
    });
  });

  it('leaves our own errors, aborts and bugs unchanged', () => {
    const ours = new ProtocolError('x', 'ETIMEOUT');
    expect(classified(ours)).toBe(ours);
    const auth = new AuthenticationError('y');
    expect(classified(auth)).toBe(auth);
    const abort = new DOMException('The operation was aborted', 'AbortError');
    expect(classified(abort)).toBe(abort);
    const bug = new TypeError('Cannot read properties of undefined');
    expect(classified(bug)).toBe(bug);
    expect(classified('a string')).toBeInstanceOf(Error);
  });

  it('names only the host when no user is known', () => {
    const err = imapError('Command failed', { responseStatus: 'NO', authenticationFailed: true });
    expect(classifyImapError(err, { host: 'h.example' }).message).toBe(
      'IMAP login as h.example refused: Command failed',
    );
  });
});

describe('masterUserLogin', () => {
  it("joins user and master user with Dovecot's separator", () => {
    expect(masterUserLogin('alice', 'vmail')).toBe('alice*vmail');
    expect(masterUserLogin('alice@example.org', 'vmail')).toBe('alice@example.org*vmail');
  });

  it('refuses names that would move the separator, or are empty', () => {
    expect(() => masterUserLogin('ali*ce', 'vmail')).toThrow(InvalidPayloadError);
    expect(() => masterUserLogin('alice', 'v*mail')).toThrow(/master user name "v\*mail"/);
    expect(() => masterUserLogin('', 'vmail')).toThrow(InvalidPayloadError);
  });
});

describe('imapFlowOptions', () => {
  const base: ImapConnectOptions = {
    host: 'imap.example.org',
    port: 993,
    security: 'tls',
    verifyCertificate: true,
    user: 'alice',
    password: 'secret',
  };

  it('maps the security modes without an opportunistic STARTTLS', () => {
    expect(imapFlowOptions(base)).toMatchObject({ secure: true, tls: { rejectUnauthorized: true } });
    expect(imapFlowOptions(base)).not.toHaveProperty('doSTARTTLS');
    expect(imapFlowOptions({ ...base, security: 'starttls' })).toMatchObject({
      secure: false,
      doSTARTTLS: true,
    });
    expect(imapFlowOptions({ ...base, security: 'none', verifyCertificate: false })).toMatchObject({
      secure: false,
      doSTARTTLS: false,
      tls: { rejectUnauthorized: false },
    });
  });

  it('connects to a checked address, checking the certificate against the name', () => {
    expect(imapFlowOptions({ ...base, address: '192.0.2.8' })).toMatchObject({
      host: '192.0.2.8',
      servername: 'imap.example.org',
      tls: { rejectUnauthorized: true },
    });
    expect(imapFlowOptions({ ...base, host: '192.0.2.8', address: '192.0.2.8' })).not.toHaveProperty(
      'servername',
    );
    expect(imapFlowOptions(base)).toMatchObject({ host: 'imap.example.org' });
    expect(imapFlowOptions(base)).not.toHaveProperty('servername');
  });

  it('silences imapflow, applies the timeouts and turns auto-IDLE off', () => {
    const opts = imapFlowOptions({ ...base, connectTimeoutMs: 5000, socketTimeoutMs: 7000 });
    expect(opts).toMatchObject({
      logger: false,
      connectionTimeout: 5000,
      greetingTimeout: 5000,
      socketTimeout: 7000,
      disableAutoIdle: true,
      auth: { user: 'alice', pass: 'secret' },
    });
  });
});

describe('uidSets', () => {
  it('packs runs and splits long lists', () => {
    expect(uidSets([])).toEqual([]);
    expect(uidSets([7, 1, 2, 3, 3, 9, 10])).toEqual(['1:3,7,9:10']);
    expect(uidSets([1, 2, 3, 5, 6], 2)).toEqual(['1:2', '3,5', '6']);
  });
});

describe('connectImap against fake servers', () => {
  const servers: net.Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  /** A TCP server on 127.0.0.1 running `onSocket` per connection; resolves with its port. */
  async function fakeServer(onSocket: (socket: net.Socket) => void): Promise<number> {
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      onSocket(socket);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as AddressInfo).port;
  }

  const opts = (port: number, extra: Partial<ImapConnectOptions> = {}): ImapConnectOptions => ({
    host: '127.0.0.1',
    port,
    security: 'none',
    verifyCertificate: true,
    user: 'alice',
    password: 'hunter2',
    connectTimeoutMs: 300,
    ...extra,
  });

  it('a server that never greets is ETIMEOUT', async () => {
    const port = await fakeServer(() => undefined); // silent until the client gives up
    await expect(connectImap(opts(port))).rejects.toMatchObject({ name: 'ProtocolError', code: 'ETIMEOUT' });
  });

  it('a server that hangs up at once is ECONNECTION', async () => {
    const port = await fakeServer((socket) => socket.destroy());
    await expect(connectImap(opts(port))).rejects.toMatchObject({
      name: 'ProtocolError',
      code: 'ECONNECTION',
    });
  });

  it('starttls against a server without STARTTLS is ETLS, and no credentials are sent', async () => {
    const received: string[] = [];
    const port = await fakeServer((socket) => {
      socket.write('* OK IMAP4rev1 ready\r\n');
      socket.on('data', (data: Buffer) => {
        for (const line of data.toString('latin1').split('\r\n').filter(Boolean)) {
          received.push(line);
          const [tag, command] = line.split(' ');
          if (command?.toUpperCase() === 'CAPABILITY') {
            socket.write(`* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n${tag} OK done\r\n`);
          } else {
            socket.write(`${tag} BAD not here\r\n`);
          }
        }
      });
    });
    const err = await connectImap(opts(port, { security: 'starttls' })).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ProtocolError', code: 'ETLS' });
    expect((err as Error).message).toContain('STARTTLS');
    expect(received.join('\n')).not.toMatch(/LOGIN|AUTHENTICATE|hunter2/i);
  });

  it('a server that goes silent mid-command is ETIMEOUT, not the NoConnection imapflow rejects with', async () => {
    const port = await fakeServer((socket) => {
      // PREAUTH (RFC 3501 7.1.4): no login, straight to the commands imapflow sends on connect.
      socket.write('* PREAUTH IMAP4rev1 ready\r\n');
      socket.on('data', (data: Buffer) => {
        for (const line of data.toString('latin1').split('\r\n').filter(Boolean)) {
          const [tag, command = ''] = line.split(' ');
          const untagged: Record<string, string> = {
            CAPABILITY: '* CAPABILITY IMAP4rev1\r\n',
            NAMESPACE: '* NAMESPACE (("" "/")) NIL NIL\r\n',
          };
          if (command.toUpperCase() === 'SELECT' || command.toUpperCase() === 'EXAMINE') continue;
          socket.write(`${untagged[command.toUpperCase()] ?? ''}${tag} OK done\r\n`);
        }
      });
    });
    const client = await connectImap(opts(port, { socketTimeoutMs: 300 }));
    try {
      await expect(openFolder(client, 'INBOX', { readOnly: true })).rejects.toMatchObject({
        name: 'ProtocolError',
        code: 'ETIMEOUT',
      });
    } finally {
      client.close();
    }
  });

  it('an already aborted signal rejects before connecting', async () => {
    const reason = new Error('job cancelled');
    await expect(connectImap(opts(1, { signal: AbortSignal.abort(reason) }))).rejects.toBe(reason);
  });
});
