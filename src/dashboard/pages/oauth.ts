/**
 * The OAuth2 part of the Connectors and Synchronization pages: an account's grant (authorised,
 * not authorised, or to re-authorise and why) and its device login started from the page
 * (src/oauth/device-logins.ts), the dashboard's `mailjobs oauth login`. Never a token: the
 * answers hold dates, states and, for admins, the code the user types at the provider.
 */
import { type OAuthAccount, findOAuthAccount, oauthAccounts } from '../../oauth/accounts.js';
import type { DeviceLoginView } from '../../oauth/device-logins.js';
import { type GrantStatus, jobTokenStore } from '../../oauth/token-store.js';
import { HttpError, type ApiRoute, type DashboardDeps, type SessionUser } from '../types.js';

export interface OAuthView extends GrantStatus {
  login?: DeviceLoginView;
}

/** The grant and login of `account`; a viewer is not shown the code (only an admin signs in). */
export async function oauthView(
  deps: DashboardDeps,
  account: OAuthAccount,
  user: SessionUser,
): Promise<OAuthView> {
  const [grant, login] = await Promise.all([
    jobTokenStore(deps.rt).grantStatus(account),
    deps.deviceLogins.view(account),
  ]);
  if (!login) return grant;
  if (user.role === 'admin') return { ...grant, login };
  const { userCode: _code, verificationUriComplete: _uri, ...shown } = login;
  return { ...grant, login: shown };
}

/** The OAuth view of connector or task `id`; undefined when it logs in with a password. */
export async function oauthOf(
  deps: DashboardDeps,
  kind: OAuthAccount['kind'],
  id: string,
  user: SessionUser,
): Promise<OAuthView | undefined> {
  const account = oauthAccounts(deps.rt.config).find((a) => a.kind === kind && a.id === id);
  return account && oauthView(deps, account, user);
}

/** The OAuth account of connector or task `id`, or a 404/409 naming what is wrong. */
function accountOf(deps: DashboardDeps, kind: OAuthAccount['kind'], id: string): OAuthAccount {
  const known = kind === 'connector' ? deps.rt.config.connectors : deps.rt.config.sync;
  if (!known.some((x) => x.id === id))
    throw new HttpError(404, `no ${kind === 'connector' ? 'connector' : 'sync task'} "${id}" in the config`);
  try {
    return findOAuthAccount(deps.rt.config, `${kind}:${id}`);
  } catch (err) {
    throw new HttpError(409, (err as Error).message);
  }
}

/**
 * `POST <path>` (with `:id`): starts a device login for that connector or task, or answers
 * with the pending one; the page polls its listing for the state that follows.
 */
export function oauthLoginRoute(kind: OAuthAccount['kind'], path: string): ApiRoute {
  return {
    method: 'POST',
    path,
    role: 'admin',
    async handle(req, deps) {
      const account = accountOf(deps, kind, req.params.id ?? '');
      await deps.deviceLogins.start(account, req.user.name);
      return oauthView(deps, account, req.user);
    },
  };
}
