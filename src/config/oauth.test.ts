import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { main } from '../cli/main.js';
import { oauthAccounts } from '../oauth/accounts.js';
import { parseConfig } from './load.js';
import { configErrorOf } from '../../test/helpers/config-error.js';

const dir = mkdtempSync(join(tmpdir(), 'mailjobs-oauth-cfg-'));
const file = join(dir, 'mailjobs.yaml');
writeFileSync(join(dir, 'google.secret'), 'client-secret\n');

const config = (auth: string, protocol = 'imap') => `
connectors:
  - id: john@example.com
    protocol: ${protocol}
    host: outlook.office365.com
    username: john@example.com
    deliverTo: john
    auth: ${auth}
sync:
  - id: mary
    localUser: mary
    remote: { host: imap.gmail.com, username: mary@example.com, auth: ${auth} }
`;

const errorOf = (text: string): string => configErrorOf(text, file);

describe('auth: { method: oauth2 } in the config', () => {
  it('microsoft: the tenant endpoints, the IMAP or POP scope, offline_access', () => {
    const ms = '{ method: oauth2, provider: microsoft, clientId: abc, tenant: contoso.onmicrosoft.com }';
    for (const protocol of ['imap', 'pop3'] as const) {
      const c = parseConfig(config(ms, protocol), file, {});
      const [connector, task] = oauthAccounts(c);
      expect(connector).toMatchObject({
        kind: 'connector',
        id: 'john@example.com',
        port: protocol === 'imap' ? 993 : 995,
      });
      expect(connector!.oauth).toEqual({
        provider: 'microsoft',
        clientId: 'abc',
        clientSecret: undefined,
        tokenUrl: 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token',
        deviceAuthorizationUrl:
          'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode',
        scopes: [
          `https://outlook.office.com/${protocol === 'imap' ? 'IMAP' : 'POP'}.AccessAsUser.All`,
          'offline_access',
        ],
      });
      expect(task).toMatchObject({ kind: 'sync', id: 'mary', username: 'mary@example.com', port: 993 });
      expect(task!.oauth.scopes[0]).toBe('https://outlook.office.com/IMAP.AccessAsUser.All');
    }
    const common = parseConfig(config('{ method: oauth2, provider: microsoft, clientId: abc }'), file, {});
    expect(oauthAccounts(common)[0]!.oauth.tokenUrl).toContain('/common/');
  });

  it('google: its endpoints and scope, the client secret from its file and masked', () => {
    const c = parseConfig(
      config('{ method: oauth2, provider: google, clientId: g.apps, clientSecretFile: google.secret }'),
      file,
      {},
    );
    const { oauth } = oauthAccounts(c)[0]!;
    expect(oauth).toMatchObject({
      tokenUrl: 'https://oauth2.googleapis.com/token',
      deviceAuthorizationUrl: 'https://oauth2.googleapis.com/device/code',
      scopes: ['https://mail.google.com/'],
    });
    expect(oauth.clientSecret?.reveal()).toBe('client-secret');
    expect(JSON.stringify(c)).not.toContain('client-secret');
  });

  it('custom needs its endpoints and scopes; plain http only on loopback', () => {
    expect(errorOf(config('{ method: oauth2, provider: custom, clientId: x }'))).toContain(
      'connectors[0].auth.tokenUrl: required for provider custom',
    );
    const custom = (url: string) =>
      config(
        `{ method: oauth2, provider: custom, clientId: x, tokenUrl: "${url}/t", deviceAuthorizationUrl: "${url}/d", scopes: [mail] }`,
      );
    expect(oauthAccounts(parseConfig(custom('http://127.0.0.1:8080'), file, {}))[0]!.oauth.scopes).toEqual([
      'mail',
    ]);
    expect(errorOf(custom('http://auth.example.com'))).toContain(
      'connectors[0].auth.tokenUrl: must be https',
    );
  });

  it('refuses a password beside auth, a tenant for google, an unknown key', () => {
    const both = config('{ method: oauth2, provider: google, clientId: g }').replace(
      '    deliverTo: john\n',
      '    deliverTo: john\n    password: x\n',
    );
    expect(errorOf(both)).toContain(
      'exactly one of password, passwordFile or auth is required (got password, auth)',
    );
    expect(errorOf(config('{ method: oauth2, provider: google, clientId: g, tenant: t }'))).toContain(
      'connectors[0].auth.tenant: only for provider microsoft',
    );
    expect(errorOf(config('{ method: oauth2, provider: google, clientId: g, scope: x }'))).toContain(
      'connectors[0].auth',
    );
  });

  it('mailjobs config check: microsoft and google accounts pass, endpoints shown, the client secret masked', async () => {
    const text = config('{ method: oauth2, provider: microsoft, clientId: abc }').replace(
      'auth: { method: oauth2, provider: microsoft, clientId: abc } }',
      'auth: { method: oauth2, provider: google, clientId: g.apps, clientSecretFile: google.secret } }',
    );
    writeFileSync(file, text);
    const out: string[] = [];
    const code = await main(['config', 'check', '--config', file], {
      jobs: [],
      log: pino({ level: 'silent' }),
      out: (t) => out.push(t),
      err: (t) => out.push(t),
    });
    const shown = out.join('\n');
    expect(code).toBe(0);
    expect(shown).toContain('https://login.microsoftonline.com/common/oauth2/v2.0/devicecode');
    expect(shown).toContain('https://oauth2.googleapis.com/device/code');
    expect(shown).toContain(`[secret] (file:${join(dir, 'google.secret')})`);
    expect(shown).not.toContain('client-secret');
  });
});
