/**
 * Logging in with OAuth 2.0 access tokens at a real Dovecot whose `oauth2` passdb checks each
 * token by introspection at the test's authorization server: our POP3 client's AUTH with
 * OAUTHBEARER (announced, so chosen) and XOAUTH2, imapflow's AUTHENTICATE for IMAP, and a
 * token the server no longer accepts refused as a login failure, the token never in the message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError } from '../../src/core/errors.js';
import { connectImap } from '../../src/mail/imap-connect.js';
import { Pop3Client } from '../../src/mail/pop3.js';
import { type DovecotFixture, startDovecot } from '../fixtures/dovecot.js';
import { type OAuthServerFixture, startOAuthServer } from '../fixtures/oauth-server.js';

let as: OAuthServerFixture;
let dovecot: DovecotFixture;
beforeAll(async () => {
  as = await startOAuthServer();
  dovecot = await startDovecot({ oauth2: { introspectionUrl: as.introspectionUrl } });
});
afterAll(async () => {
  await dovecot?.stop();
  await as?.stop();
});

/** A fresh access token of `user`, obtained as a client would: refreshing a grant. */
async function accessTokenOf(user: string): Promise<string> {
  const refresh = as.issueGrant(user);
  const res = await fetch(as.tokenUrl, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refresh,
      client_id: as.clientId,
    }),
  });
  return ((await res.json()) as { access_token: string }).access_token;
}

const pop3 = () =>
  Pop3Client.connect({
    host: '127.0.0.1',
    port: dovecot.pop3Port,
    security: 'none',
    verifyCertificate: false,
    connectTimeoutMs: 10_000,
    commandTimeoutMs: 10_000,
  });

describe('SASL OAuth logins at Dovecot', () => {
  it('POP3: OAUTHBEARER is chosen when announced, and the session works', async () => {
    const { user } = await dovecot.addUser('pop-bearer');
    const client = await pop3();
    try {
      expect(client.capabilities.get('SASL')).toMatch(/OAUTHBEARER/);
      const before = as.introspections;
      expect(await client.authenticateOAuth(user, await accessTokenOf(user))).toBe('OAUTHBEARER');
      expect(as.introspections).toBeGreaterThan(before);
      expect(await client.stat()).toEqual({ count: 0, size: 0 });
    } finally {
      await client.quit();
    }
  });

  it('POP3: XOAUTH2 when OAUTHBEARER is not announced', async () => {
    const { user } = await dovecot.addUser('pop-xoauth');
    const client = await pop3();
    try {
      // As a server announcing only XOAUTH2 would be seen.
      (client.capabilities as Map<string, string>).set('SASL', 'PLAIN LOGIN XOAUTH2');
      expect(await client.authenticateOAuth(user, await accessTokenOf(user))).toBe('XOAUTH2');
      expect(await client.stat()).toEqual({ count: 0, size: 0 });
    } finally {
      await client.quit();
    }
  });

  it('POP3: a token the server refuses is an AuthenticationError without the token', async () => {
    const { user } = await dovecot.addUser('pop-refused');
    const token = await accessTokenOf(user);
    as.expireAccessTokens(user);
    const client = await pop3();
    try {
      const err = await client.authenticateOAuth(user, token).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthenticationError);
      expect((err as Error).message).toContain(user);
      expect((err as Error).message).not.toContain(token);
      // The session is still in the AUTHORIZATION state: a fresh token logs in.
      expect(await client.authenticateOAuth(user, await accessTokenOf(user))).toBe('OAUTHBEARER');
    } finally {
      await client.quit();
    }
  });

  it('IMAP: imapflow logs in with the token', async () => {
    const { user } = await dovecot.addUser('imap-bearer');
    const client = await connectImap({
      host: '127.0.0.1',
      port: dovecot.imapPort,
      security: 'none',
      verifyCertificate: false,
      user,
      accessToken: await accessTokenOf(user),
    });
    try {
      expect(client.authenticated).toBeTruthy();
      expect((await client.mailboxOpen('INBOX')).exists).toBe(0);
    } finally {
      await client.logout();
    }
  });

  it('IMAP: a refused token is an AuthenticationError', async () => {
    const { user } = await dovecot.addUser('imap-refused');
    const token = await accessTokenOf(user);
    as.revoke(user);
    const err = await connectImap({
      host: '127.0.0.1',
      port: dovecot.imapPort,
      security: 'none',
      verifyCertificate: false,
      user,
      accessToken: token,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as Error).message).not.toContain(token);
  });
});
