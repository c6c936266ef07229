/**
 * A sync task whose remote side logs in with OAuth2 tokens (Dovecot's oauth2 passdb, tokens
 * checked by introspection at the test's authorization server). Mid-run, the connection is cut
 * by a TCP proxy at the moment the server stops accepting the token it logged in with: the
 * reconnect is refused that token, refreshes it, logs in again, and the run ends ok with every
 * message copied once.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { registry } from '../../src/jobs/registry.js';
import { deliverTo, mailbox, message } from '../getmail/world.js';
import { freshPrefix, runCli } from '../helpers/runtime.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { runImapsync } from '../imapsync/world.js';
import { useOAuthWorld } from './world.js';

const w = useOAuthWorld();
const proxies: TcpProxy[] = [];
afterAll(async () => {
  await Promise.allSettled(proxies.map((p) => p.close()));
});

const MESSAGES = 300;

function syncConfig(id: string, localUser: string, remoteUser: string, remotePort: number): string {
  const file = join(tmpdir(), `mailjobs-oauth-sync-${id}-${freshPrefix()}.yaml`);
  const lines = [
    `redis: { url: "${w.redis.url}", prefix: ${freshPrefix()} }`,
    'dovecot:',
    `  imap: { host: 127.0.0.1, port: ${w.local.imapPort}, security: none }`,
    `  lmtp: { host: 127.0.0.1, port: ${w.local.lmtpPort} }`,
    '  masterUser: vmail',
    `  masterPasswordFile: ${w.local.masterPasswordFile}`,
    w.secretsLine(),
    // One pair of connections: the cut finds them in the middle of the INBOX, not opening.
    'imapsync: { parallelFolders: 1 }',
    'sync:',
    `  - id: ${id}`,
    `    localUser: ${localUser}`,
    `    remote: { host: 127.0.0.1, port: ${remotePort}, security: none, username: ${remoteUser}, auth: ${w.auth} }`,
  ];
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

describe('a sync task with OAuth2', () => {
  it('logs in with a token; refused mid-run, the token is refreshed and the run goes on', async () => {
    const remote = await w.remote.addUser('r-sync');
    const local = await w.local.addUser('l-sync');
    const body = 'A line of text to give each message some weight.\r\n'.repeat(100);
    await deliverTo(
      w.remote,
      remote.user,
      Array.from({ length: MESSAGES }, (_, i) => message(`sync-${i}`, body)),
    );
    const proxy = await TcpProxy.start(w.remote.imapPort);
    proxies.push(proxy);
    const config = syncConfig('oauth-sync', local.user, remote.user, proxy.port);
    const grant = join(tmpdir(), `mailjobs-rt-sync-${freshPrefix()}`);
    writeFileSync(grant, w.as.issueGrant(remote.user), { mode: 0o600 });
    const login = await runCli(
      ['oauth', 'login', 'oauth-sync', '--refresh-token-file', grant, '--config', config],
      registry,
    );
    expect(login.out).toContain('authorised sync "oauth-sync" (r-sync)');
    const refreshesBefore = w.as.tokenRequests.refresh_token ?? 0;
    // Halfway through the bodies, the token the run logged in with stops being accepted and
    // the connection drops: the reconnect must get a new token to go on.
    const cut = proxy.cutOn((p) => {
      if (p.direction !== 'down' || p.total < 1_000_000) return false;
      w.as.expireAccessTokens(remote.user);
      return true;
    });
    const r = await runImapsync(config, { task: 'oauth-sync' });
    expect(r.code).toBe(0);
    expect(await cut).toBeGreaterThanOrEqual(1);
    expect(proxy.cuts).toBe(1);
    expect(r.result).toMatchObject({ outcome: 'ok', messagesOnSource: MESSAGES, copied: MESSAGES });
    expect(r.result!.work.reconnects).toBe(1);
    expect(w.as.tokenRequests.refresh_token).toBe(refreshesBefore + 1);
    const copied = await mailbox(w.local, local.user);
    expect(new Set(copied.map((m) => /Message-ID: <([^>]+)>/.exec(m.source.toString())?.[1])).size).toBe(
      MESSAGES,
    );
    expect(copied).toHaveLength(MESSAGES);
  }, 120_000);
});
