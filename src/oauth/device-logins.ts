/**
 * Device logins (RFC 8628) started from the dashboard: the same grant as `mailjobs oauth
 * login`, polled in the dashboard process that started it, its state in Redis so that every
 * dashboard process shows it. At most one login is pending per account (a `SET NX` key that
 * lives as long as the device code, `expires_in`): a second click gets the same code. When the
 * login ends, its outcome (approved, refused, expired, failed) is kept a while for the page.
 * The refresh token goes to the token store, sealed; no token is ever in these records.
 */
import type { RedisClient } from '../core/redis.js';
import type { Logger } from '../core/logger.js';
import { ProtocolError } from '../core/errors.js';
import type { OAuthAccount } from './accounts.js';
import { DeviceLoginEndedError, deviceLogin } from './grants.js';
import type { OAuthTokenStore } from './token-store.js';

export type DeviceLoginState = 'starting' | 'waiting' | 'approved' | 'refused' | 'expired' | 'failed';

/** What the page shows of a login: never a token (the user code is what the user types). */
export interface DeviceLoginView {
  state: DeviceLoginState;
  startedBy: string;
  startedAt: number;
  verificationUri?: string;
  verificationUriComplete?: string;
  userCode?: string;
  /** When the code expires (waiting), or when the login ended. */
  expiresAt?: number;
  endedAt?: number;
  /** Why it failed, refused or expired. */
  reason?: string;
}

/** How long a claim may stay in `starting` (the device endpoint has 30 s to answer). */
const STARTING_MS = 45_000;
/** How long an ended login's outcome stays on the page. */
const ENDED_MS = 15 * 60_000;

/** Only http(s) links reach the page (a `javascript:` URI from a server would run there). */
function webUri(uri: string | undefined): string | undefined {
  if (uri === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new ProtocolError(`OAuth: the verification URI is not a URL`, 'EPROTOCOL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw new ProtocolError(`OAuth: the verification URI is not http(s): ${u.protocol}`, 'EPROTOCOL');
  return u.href;
}

export class DeviceLogins {
  readonly #stop = new AbortController();
  readonly #running = new Set<Promise<void>>();

  constructor(
    private readonly redis: RedisClient,
    private readonly key: (...parts: string[]) => string,
    private readonly store: OAuthTokenStore,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  #pendingKey(a: OAuthAccount): string {
    return this.key('oauth', a.kind, a.id, 'login');
  }

  #endedKey(a: OAuthAccount): string {
    return this.key('oauth', a.kind, a.id, 'login-ended');
  }

  /** The pending login of `a`, else the outcome of its last one (for a while), else undefined. */
  async view(a: OAuthAccount): Promise<DeviceLoginView | undefined> {
    const [pending, ended] = await this.redis.mget(this.#pendingKey(a), this.#endedKey(a));
    const text = pending ?? ended;
    return text ? (JSON.parse(text) as DeviceLoginView) : undefined;
  }

  /**
   * Starts a device login for `a` unless one is pending (then that one is returned). Resolves
   * once the code is known (or with the pending login); the approval is awaited in the
   * background. A device endpoint that refuses or cannot be reached rejects (`ProtocolError`).
   */
  async start(a: OAuthAccount, by: string): Promise<DeviceLoginView> {
    const pendingKey = this.#pendingKey(a);
    const claim: DeviceLoginView = { state: 'starting', startedBy: by, startedAt: this.now() };
    if ((await this.redis.set(pendingKey, JSON.stringify(claim), 'PX', STARTING_MS, 'NX')) !== 'OK') {
      const pending = await this.view(a);
      if (pending) return pending;
      return this.start(a, by); // it ended between the two reads
    }
    this.log.info({ account: a.id, kind: a.kind, by }, 'OAuth2 device login started from the dashboard');
    return new Promise<DeviceLoginView>((resolve, reject) => {
      let shown: Promise<void> = Promise.resolve();
      const run = deviceLogin(
        a.oauth,
        (p) => {
          const waiting: DeviceLoginView = {
            ...claim,
            state: 'waiting',
            verificationUri: webUri(p.verificationUri)!,
            ...(p.verificationUriComplete
              ? { verificationUriComplete: webUri(p.verificationUriComplete) }
              : {}),
            userCode: p.userCode,
            expiresAt: this.now() + p.expiresInSeconds * 1000,
          };
          shown = this.redis
            .set(pendingKey, JSON.stringify(waiting), 'PX', p.expiresInSeconds * 1000)
            .then(() => resolve(waiting));
          shown.catch(reject);
        },
        this.#stop.signal,
      )
        .then(async (tokens) => {
          await shown;
          if (!tokens.refreshToken)
            throw new ProtocolError(
              'the authorization server gave no refresh token: add offline_access to the scopes (Microsoft)',
              'EPROTOCOL',
            );
          await this.store.storeGrant(a, { ...tokens, refreshToken: tokens.refreshToken });
          await this.#end(a, claim, 'approved');
        })
        .catch(async (err: unknown) => {
          await shown.catch(() => undefined);
          const reason = this.#stop.signal.aborted
            ? 'the dashboard stopped while waiting: sign in again'
            : err instanceof Error
              ? err.message
              : String(err);
          const state = err instanceof DeviceLoginEndedError ? err.outcome : 'failed';
          await this.#end(a, claim, state, reason).catch((e: unknown) =>
            this.log.error({ err: e, account: a.id }, 'OAuth2 device login: cannot record its end'),
          );
          reject(err instanceof Error ? err : new Error(reason)); // no effect once the code was shown
        })
        .finally(() => this.#running.delete(run));
      this.#running.add(run);
    });
  }

  async #end(a: OAuthAccount, claim: DeviceLoginView, state: DeviceLoginState, reason?: string) {
    const ended: DeviceLoginView = {
      state,
      startedBy: claim.startedBy,
      startedAt: claim.startedAt,
      endedAt: this.now(),
      ...(reason ? { reason } : {}),
    };
    await this.redis
      .multi()
      .del(this.#pendingKey(a))
      .set(this.#endedKey(a), JSON.stringify(ended), 'PX', ENDED_MS)
      .exec();
    const fields = { account: a.id, kind: a.kind, outcome: state, ...(reason ? { reason } : {}) };
    this.log.info(fields, 'OAuth2 device login ended');
  }

  /** Stops waiting for every pending login of this process (their pages say so). */
  async close(): Promise<void> {
    this.#stop.abort();
    await Promise.allSettled([...this.#running]);
  }
}
