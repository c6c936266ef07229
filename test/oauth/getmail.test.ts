/**
 * Connectors that log in with OAuth2 tokens at a real Dovecot (tokens checked by introspection
 * at the test's authorization server): the grant stored by `mailjobs oauth login` (imported, or
 * by a device login the test approves as the user), POP3 and IMAP fetches that deliver every
 * message once, a token the server stops accepting refreshed and the run going on, a revoked
 * grant failing once with the re-authorise advice, and one refresh for two workers at once.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/load.js';
import { SecretBox } from '../../src/core/crypto.js';
import { stateKey } from '../../src/core/redis.js';
import { registry } from '../../src/jobs/registry.js';
import { oauthAccounts } from '../../src/oauth/accounts.js';
import { OAuthTokenStore } from '../../src/oauth/token-store.js';
import { freshPrefix, runCli, silentLog } from '../helpers/runtime.js';
import {
  type ConnectorSpec,
  deliverTo,
  mailbox,
  message,
  runGetmail,
  startGetmailWorkers,
  writeWorldConfig,
} from '../getmail/world.js';
import { useOAuthWorld } from './world.js';

const w = useOAuthWorld();
let redis: Redis;
beforeAll(() => {
  redis = new Redis(w.redis.url);
});
afterAll(async () => {
  await redis?.quit();
});

/** A remote account with `messages` messages, a local user, and a connector spec for them. */
async function account(name: string, protocol: 'pop3' | 'imap', messages: number) {
  const remote = await w.remote.addUser(`r-${name}`);
  const local = await w.local.addUser(`l-${name}`);
  await deliverTo(
    w.remote,
    remote.user,
    Array.from({ length: messages }, (_, i) => message(`${name}-${i}`)),
  );
  const spec: ConnectorSpec = {
    id: `${name}@remote.test`,
    protocol,
    security: 'none',
    user: remote.user,
    password: '',
    deliverTo: local.user,
    auth: w.auth,
  };
  return { remote, local, spec };
}

const configFor = (specs: ConnectorSpec[]) => writeWorldConfig(w, specs, w.secretsLine(), freshPrefix());

/** `mailjobs oauth login <id> --refresh-token-file` with a grant the server made for `user`. */
async function importGrant(config: string, id: string, user: string) {
  const file = join(tmpdir(), `mailjobs-rt-${id}`);
  writeFileSync(file, `${w.as.issueGrant(user)}\n`, { mode: 0o600 });
  const r = await runCli(['oauth', 'login', id, '--refresh-token-file', file, '--config', config], registry);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return r;
}

const refreshes = () => w.as.tokenRequests.refresh_token ?? 0;

describe('connectors with OAuth2', () => {
  it('POP3 and IMAP connectors log in with tokens and deliver every message once', async () => {
    const pop = await account('pop', 'pop3', 2);
    const imap = await account('imap', 'imap', 3);
    const config = configFor([pop.spec, imap.spec]);
    for (const a of [pop, imap]) {
      const login = await importGrant(config, a.spec.id, a.remote.user);
      expect(login.out).toContain(`authorised connector "${a.spec.id}" (${a.remote.user})`);
    }
    for (const [a, n] of [
      [pop, 2],
      [imap, 3],
    ] as const) {
      const first = await runGetmail(config, a.spec.id);
      expect(first.code).toBe(0);
      expect(first.result).toMatchObject({ delivered: n });
      const again = await runGetmail(config, a.spec.id);
      expect(again.result).toMatchObject({ delivered: 0 });
      expect(await mailbox(w.local, a.local.user)).toHaveLength(n);
    }
    // Both tokens sit in Redis sealed, never in clear.
    const c = loadConfig(config, {});
    const stored = await redis.hgetall(stateKey(c.redis.prefix, 'oauth', 'connector', pop.spec.id));
    expect(Object.keys(stored).sort()).toEqual(['access', 'authorisedAt', 'expiresAt', 'refresh']);
    expect(stored.refresh).toMatch(/^mjs2\./);
    expect(stored.access).toMatch(/^mjs2\./);
  });

  it('mailjobs oauth login: the device code is shown, the user approves it, the grant is stored', async () => {
    const a = await account('device', 'imap', 1);
    const config = configFor([a.spec]);
    const out: string[] = [];
    const err: string[] = [];
    const pending = main(['oauth', 'login', a.spec.id, '--config', config], {
      jobs: registry,
      log: silentLog,
      out: (t) => out.push(t),
      err: (t) => err.push(t),
    });
    // The user reads the code from the terminal and enters it at the verification page.
    let code = '';
    await expect
      .poll(() => (code = /enter the code: (\S+)/.exec(out.join('\n'))?.[1] ?? ''), { timeout: 20_000 })
      .not.toBe('');
    expect(out.join('\n')).toContain(`open ${w.as.url}/verify`);
    w.as.approve(code, a.remote.user);
    expect(await pending).toBe(0);
    expect(err).toEqual([]);
    expect(out.at(-1)).toBe(
      `authorised connector "${a.spec.id}" (${a.remote.user}): the refresh token is stored sealed`,
    );
    // authorization_pending... then the token: polled more than once, slow_down honoured.
    expect(w.as.tokenRequests.device_code).toBeGreaterThanOrEqual(2);
    const run = await runGetmail(config, a.spec.id);
    expect(run.result).toMatchObject({ delivered: 1 });
  }, 60_000);

  it('a token the server stops accepting before its expiry is refreshed, and the run goes on', async () => {
    const a = await account('early', 'pop3', 1);
    const config = configFor([a.spec]);
    await importGrant(config, a.spec.id, a.remote.user);
    expect((await runGetmail(config, a.spec.id)).result).toMatchObject({ delivered: 1 });
    const before = refreshes();
    w.as.expireAccessTokens(a.remote.user); // the stored one still looks good for an hour
    await deliverTo(w.remote, a.remote.user, [message('early-late')]);
    const run = await runGetmail(config, a.spec.id);
    expect(run.code).toBe(0);
    expect(run.result).toMatchObject({ delivered: 1 });
    expect(refreshes()).toBe(before + 1);
    expect(await mailbox(w.local, a.local.user)).toHaveLength(2);
  });

  it('a revoked grant fails once, clearly, without retries or further token requests', async () => {
    const a = await account('revoked', 'imap', 1);
    const file = configFor([a.spec]);
    await importGrant(file, a.spec.id, a.remote.user);
    w.as.revoke(a.remote.user);
    const h = await startGetmailWorkers(w, file);
    try {
      const before = refreshes();
      const queued = await h.enqueue(a.spec.id);
      const job = (await h.queue.getJob(queued.jobId))!;
      await expect(job.waitUntilFinished(h.events, 20_000)).rejects.toThrow(
        `re-authorise with: mailjobs oauth login ${a.spec.id}`,
      );
      const failed = (await h.queue.getJob(queued.jobId))!;
      expect(failed.attemptsMade).toBe(1);
      expect(failed.opts.attempts).toBeGreaterThan(1);
      expect(failed.failedReason).toContain('invalid_grant');
      expect(await h.queue.getDelayedCount()).toBe(0);
      expect(refreshes()).toBe(before + 1);
      // The next run fails at once from what was recorded: the token endpoint is not asked again.
      const second = await runGetmail(file, a.spec.id);
      expect(second.code).toBe(1);
      expect(second.err).toContain(`re-authorise with: mailjobs oauth login ${a.spec.id}`);
      expect(refreshes()).toBe(before + 1);
      expect(await mailbox(w.local, a.local.user)).toHaveLength(0);
    } finally {
      await h.close();
    }
  });

  it('two workers needing a refresh at once make one refresh; the rotated token is kept', async () => {
    const a = await account('race', 'imap', 0);
    const file = configFor([a.spec]);
    await importGrant(file, a.spec.id, a.remote.user);
    const config = loadConfig(file, {});
    const [acc] = oauthAccounts(config);
    const key = (...parts: string[]) => stateKey(config.redis.prefix, ...parts);
    const [r1, r2] = [new Redis(w.redis.url), new Redis(w.redis.url)];
    try {
      const stores = [r1, r2].map((r) => new OAuthTokenStore(r, key, new SecretBox(config.secrets.keyFile)));
      const stale = await stores[0]!.accessToken(acc!);
      const before = refreshes();
      const hold = w.as.holdRefreshes();
      // Both were refused the same token by the server: both want a new one now.
      const both = Promise.all(stores.map((s) => s.accessToken(acc!, stale)));
      await expect.poll(refreshes).toBe(before + 1);
      hold.release();
      const [t1, t2] = await both;
      expect(t1).toBe(t2); // the second read the first one's token rather than getting its own
      expect(t1).not.toBe(stale);
      expect(refreshes()).toBe(before + 1);
      // The rotated refresh token was saved: the next refresh (with it) is accepted.
      expect(await stores[1]!.accessToken(acc!, t1)).not.toBe(t1);
      expect(refreshes()).toBe(before + 2);
    } finally {
      await Promise.all([r1.quit(), r2.quit()]);
    }
  });
});
