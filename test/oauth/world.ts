/**
 * The world of the OAuth2 tests: the getmail world (a private Redis, a remote and a local
 * Dovecot) whose remote Dovecot takes XOAUTH2 and OAUTHBEARER tokens and checks them by
 * introspection at the test's authorization server, which the accounts' `auth:` blocks point
 * at (`provider: custom`). The secrets key file lives in a temporary folder.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startDovecot } from '../fixtures/dovecot.js';
import { type OAuthServerFixture, startOAuthServer } from '../fixtures/oauth-server.js';
import { startRedis } from '../fixtures/redis.js';
import type { World } from '../getmail/world.js';

export interface OAuthWorld extends World {
  as: OAuthServerFixture;
  /** The `auth:` block of an account that logs in at `as`. */
  auth: string;
  /** A `secrets:` line with a fresh key file (for `writeWorldConfig`'s `extra`). */
  secretsLine(): string;
}

export async function startOAuthWorld(): Promise<OAuthWorld> {
  const as = await startOAuthServer();
  const [redis, remote, local] = await Promise.all([
    startRedis(),
    startDovecot({ oauth2: { introspectionUrl: as.introspectionUrl } }),
    startDovecot(),
  ]);
  return {
    as,
    redis,
    remote,
    local,
    auth: `{ method: oauth2, provider: custom, clientId: ${as.clientId}, tokenUrl: "${as.tokenUrl}", deviceAuthorizationUrl: "${as.deviceAuthorizationUrl}", scopes: [mail] }`,
    secretsLine: () =>
      `secrets: { keyFile: ${join(mkdtempSync(join(tmpdir(), 'mailjobs-oauth-')), 'secrets.key')} }`,
    async stop() {
      await Promise.allSettled([remote.stop(), local.stop(), as.stop()]);
      await redis.stop();
    },
  };
}

/** The OAuth world of a test file, started before its tests and stopped after them. */
export function useOAuthWorld(): OAuthWorld {
  let started: OAuthWorld | undefined;
  beforeAll(async () => {
    started = await startOAuthWorld();
  });
  afterAll(async () => {
    await started?.stop();
  });
  return new Proxy({} as OAuthWorld, {
    get(_target, prop) {
      if (!started) throw new Error('the OAuth world is not started (only tests and hooks may use it)');
      return started[prop as keyof OAuthWorld];
    },
  });
}
