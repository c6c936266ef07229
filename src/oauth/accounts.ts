/**
 * The accounts that log in with OAuth 2.0: connectors and configured sync tasks whose config
 * has `auth: { method: oauth2 }`. Each is named as `mailjobs oauth login` names it (its id) and
 * carries the login its tokens are sealed for (host, port, user).
 */
import type { OAuthSettings } from '../config/oauth.js';
import type { Config, ConnectorConfig } from '../config/schema.js';
import { defaultMailPort } from '../mail/ports.js';
import type { MailSecurity } from '../mail/tls.js';

export interface OAuthAccount {
  kind: 'connector' | 'sync';
  /** The connector's or the task's id. */
  id: string;
  host: string;
  port: number;
  /** The mailbox the token is for (the SASL user). */
  username: string;
  oauth: OAuthSettings;
}

/** The OAuth account of connector `c`, which logs in with `oauth`. */
export function connectorOAuthAccount(c: ConnectorConfig, oauth: OAuthSettings): OAuthAccount {
  const port = c.port ?? defaultMailPort(c.protocol, c.security);
  return { kind: 'connector', id: c.id, host: c.host, port, username: c.username, oauth };
}

/** The OAuth account of task `t`'s remote side, which logs in as `username` with `oauth`. */
export function syncOAuthAccount(
  t: {
    id: string;
    remote: { host: string; port?: number | undefined; security: MailSecurity };
  },
  username: string,
  oauth: OAuthSettings,
): OAuthAccount {
  const { host, port, security } = t.remote;
  return { kind: 'sync', id: t.id, host, port: port ?? defaultMailPort('imap', security), username, oauth };
}

/** Every OAuth account of the config: connectors first, then sync tasks. */
export function oauthAccounts(config: Config): OAuthAccount[] {
  const accounts: OAuthAccount[] = [];
  for (const c of config.connectors) {
    if (c.login.kind === 'oauth2') accounts.push(connectorOAuthAccount(c, c.login.oauth));
  }
  for (const t of config.sync) {
    const { login } = t.remote;
    if (login.kind === 'oauth2') accounts.push(syncOAuthAccount(t, login.username, login.oauth));
  }
  return accounts;
}

/**
 * The account `name` stands for: a connector or task id, or `connector:<id>` / `sync:<id>`
 * when an id is both. Throws an `Error` whose message says what is wrong, for one line.
 */
export function findOAuthAccount(config: Config, name: string): OAuthAccount {
  const [kind, id] = /^(connector|sync):(.+)$/.exec(name)?.slice(1) ?? [undefined, name];
  const matches = oauthAccounts(config).filter((a) => a.id === id && (kind === undefined || a.kind === kind));
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw new Error(`"${name}" is both a connector and a sync task: say connector:${name} or sync:${name}`);
  }
  const known = [...config.connectors, ...config.sync].some((x) => x.id === id);
  throw new Error(
    known
      ? `"${id}" does not log in with OAuth 2.0 (no auth: { method: oauth2 } in its config)`
      : `no connector or sync task "${id}" in the config`,
  );
}
