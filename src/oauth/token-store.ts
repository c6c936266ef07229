/**
 * OAuth 2.0 tokens of the accounts in Redis, one hash per account: the refresh token and the
 * current access token, both sealed (src/core/crypto.ts) for that account's host, port and
 * user, and the access token's expiry. Whichever job needs a token gets it here: a token
 * close to its expiry is refreshed first, by one process at a time per account across all
 * workers (a Redis lock); the others wait for the lock and read the new token. A rotated
 * refresh token is written in the same HSET as the access token it came with.
 *
 * A grant the token endpoint refuses (`invalid_grant`: revoked, expired, password changed) is
 * recorded, so later jobs fail at once without asking the endpoint again (no retry storm),
 * until `mailjobs oauth login` stores a new grant.
 */
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../core/redis.js';
import { type SealedField, SecretBox } from '../core/crypto.js';
import { AuthenticationError, ProtocolError } from '../core/errors.js';
import type { OAuthAccount } from './accounts.js';
import { type GrantedTokens, GrantRefusedError, refreshGrant } from './grants.js';

/** A revoked or missing grant: only the admin can help, by logging in again. Never retried. */
export class OAuthGrantError extends AuthenticationError {
  constructor(account: OAuthAccount, why: string) {
    super(
      `OAuth2 login of ${account.kind} "${account.id}" (${account.username}) impossible: ${why}; re-authorise with: mailjobs oauth login ${account.id}`,
    );
  }
}

/** An access token closer than this to its expiry is refreshed before use. */
const EXPIRY_MARGIN_MS = 60_000;
/** Assumed lifetime when the server does not say (`expires_in` is only RECOMMENDED). */
const DEFAULT_LIFETIME_MS = 3_600_000;
/** Longer than a refresh may take (grants.ts gives the endpoint 30 s), so a crashed holder frees it. */
const LOCK_MS = 45_000;
/** How often a process waiting for another's refresh looks again. */
const WAIT_STEP_MS = 50;

/** Deletes the lock only if it is still ours (it may have expired and been taken by another). */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

type Fields = Partial<Record<'refresh' | 'access' | 'expiresAt' | 'revoked' | 'authorisedAt', string>>;

/** An account's grant as the pages show it. */
export interface GrantStatus {
  state: 'authorised' | 'not-authorised' | 'reauthorise';
  /** Why a new login is needed (`reauthorise`). */
  reason?: string;
  authorisedAt?: number;
  accessExpiresAt?: number;
}

export class OAuthTokenStore {
  constructor(
    private readonly redis: RedisClient,
    /** `stateKey(prefix, ...parts)` of the config's Redis prefix. */
    private readonly key: (...parts: string[]) => string,
    private readonly box: SecretBox,
    private readonly now: () => number = Date.now,
  ) {}

  #hash(a: OAuthAccount): string {
    return this.key('oauth', a.kind, a.id);
  }

  #seal(a: OAuthAccount, field: SealedField, value: string): Promise<string> {
    return this.box.seal(value, { host: a.host, port: a.port, username: a.username, field });
  }

  async #open(a: OAuthAccount, field: SealedField, sealed: string): Promise<string> {
    try {
      const purpose = { host: a.host, port: a.port, username: a.username, field };
      return (await this.box.open(sealed, purpose, field)).reveal();
    } catch {
      // Host, port or user changed in the config since the login, or another key file.
      throw new OAuthGrantError(a, `the stored ${field} was sealed for another host, port, user or key file`);
    }
  }

  async #fieldsOf(tokens: GrantedTokens, a: OAuthAccount): Promise<Record<string, string>> {
    const lifetime = tokens.expiresIn !== undefined ? tokens.expiresIn * 1000 : DEFAULT_LIFETIME_MS;
    return {
      access: await this.#seal(a, 'oauth.accessToken', tokens.accessToken),
      expiresAt: String(this.now() + lifetime),
      ...(tokens.refreshToken
        ? { refresh: await this.#seal(a, 'oauth.refreshToken', tokens.refreshToken) }
        : {}),
    };
  }

  /** Stores the tokens of a new login (device grant, or a refresh token imported from a file). */
  async storeGrant(a: OAuthAccount, tokens: GrantedTokens & { refreshToken: string }): Promise<void> {
    const hash = this.#hash(a);
    await this.redis
      .multi()
      .del(hash)
      .hset(hash, { ...(await this.#fieldsOf(tokens, a)), authorisedAt: String(this.now()) })
      .exec();
  }

  /** Stores a refresh token alone (imported): the first job refreshes it into an access token. */
  async importRefreshToken(a: OAuthAccount, refreshToken: string): Promise<void> {
    const hash = this.#hash(a);
    const refresh = await this.#seal(a, 'oauth.refreshToken', refreshToken);
    await this.redis
      .multi()
      .del(hash)
      .hset(hash, { refresh, authorisedAt: String(this.now()) })
      .exec();
  }

  /**
   * Whether `a` has a grant, for the pages: never a token, only the dates (when it was
   * authorised, when the current access token expires) and why a refused grant needs a new login.
   */
  async grantStatus(a: OAuthAccount): Promise<GrantStatus> {
    const f = (await this.redis.hgetall(this.#hash(a))) as Fields;
    const dates = {
      ...(f.authorisedAt ? { authorisedAt: Number(f.authorisedAt) } : {}),
      ...(f.access && f.expiresAt ? { accessExpiresAt: Number(f.expiresAt) } : {}),
    };
    if (!f.refresh) return { state: 'not-authorised' };
    if (f.revoked) return { state: 'reauthorise', reason: f.revoked, ...dates };
    return { state: 'authorised', ...dates };
  }

  /**
   * A usable access token for `a`, refreshed first when it expires within a minute, or when it
   * is `rejected` (the server refused it: revoked early, or expired sooner than announced).
   * Throws {@link OAuthGrantError} when no grant is stored or it was refused, `ProtocolError`
   * when the token endpoint cannot be reached (the run is retried later).
   */
  async accessToken(a: OAuthAccount, rejected?: string): Promise<string> {
    const hash = this.#hash(a);
    const lock = `${hash}:refreshing`;
    for (;;) {
      const usable = await this.#usable(a, rejected);
      if (usable !== undefined) return usable;
      const mine = randomBytes(12).toString('base64url');
      if ((await this.redis.set(lock, mine, 'PX', LOCK_MS, 'NX')) === 'OK') {
        try {
          // Read again under the lock: another process may have refreshed since.
          return (await this.#usable(a, rejected)) ?? (await this.#refresh(a));
        } finally {
          await this.redis.eval(RELEASE, 1, lock, mine);
        }
      }
      await this.#waitWhileLocked(lock);
    }
  }

  /**
   * Runs `login` with the account's access token. When the server refuses it (an
   * `AuthenticationError`: revoked early, or expired sooner than announced), the token is
   * refreshed and `login` tried once more; a second refusal is the run's failure.
   */
  async loginWith<T>(a: OAuthAccount, login: (accessToken: string) => Promise<T>): Promise<T> {
    const token = await this.accessToken(a);
    try {
      return await login(token);
    } catch (err) {
      if (!(err instanceof AuthenticationError) || err instanceof OAuthGrantError) throw err;
      return login(await this.accessToken(a, token));
    }
  }

  /** The stored access token when it is good for another minute and not `rejected`. */
  async #usable(a: OAuthAccount, rejected: string | undefined): Promise<string | undefined> {
    const f = (await this.redis.hgetall(this.#hash(a))) as Fields;
    if (!f.refresh) throw new OAuthGrantError(a, 'no OAuth2 grant stored for it');
    if (f.revoked) throw new OAuthGrantError(a, f.revoked);
    if (!f.access || Number(f.expiresAt) - EXPIRY_MARGIN_MS <= this.now()) return undefined;
    const access = await this.#open(a, 'oauth.accessToken', f.access);
    return access === rejected ? undefined : access;
  }

  /** Refreshes under the lock; the new access token and a rotated refresh token go in one HSET. */
  async #refresh(a: OAuthAccount): Promise<string> {
    const hash = this.#hash(a);
    const sealed = await this.redis.hget(hash, 'refresh');
    if (!sealed) throw new OAuthGrantError(a, 'no OAuth2 grant stored for it');
    let tokens: GrantedTokens;
    try {
      tokens = await refreshGrant(a.oauth, await this.#open(a, 'oauth.refreshToken', sealed));
    } catch (err) {
      if (!(err instanceof GrantRefusedError)) throw err;
      // Recorded only if no login replaced the grant meanwhile.
      const reason = `the token endpoint refused the grant (${err.description})`;
      await this.redis.eval(
        `if redis.call('HGET', KEYS[1], 'refresh') == ARGV[1] then return redis.call('HSET', KEYS[1], 'revoked', ARGV[2]) end return 0`,
        1,
        hash,
        sealed,
        reason,
      );
      throw new OAuthGrantError(a, reason);
    }
    await this.redis.hset(hash, await this.#fieldsOf(tokens, a));
    return tokens.accessToken;
  }

  async #waitWhileLocked(lock: string): Promise<void> {
    const deadline = this.now() + LOCK_MS;
    while ((await this.redis.exists(lock)) === 1) {
      if (this.now() > deadline) {
        throw new ProtocolError(
          `OAuth2: another process has been refreshing for over ${LOCK_MS} ms`,
          'ETIMEOUT',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
    }
  }
}

/** The token store of a job: its Redis, its key prefix, the config's secrets key file. */
export function jobTokenStore(ctx: {
  redis: RedisClient;
  key(...parts: string[]): string;
  config: { secrets: { keyFile: string } };
}): OAuthTokenStore {
  return new OAuthTokenStore(
    ctx.redis,
    (...parts) => ctx.key(...parts),
    new SecretBox(ctx.config.secrets.keyFile),
  );
}
