/**
 * The OAuth 2.0 grants mailjobs uses, through openid-client: the Device Authorization Grant
 * (RFC 8628) for the first token, without a browser on the server, and the refresh token grant
 * (RFC 6749 section 6) for every token after it. Only the glue lives here: endpoints from the
 * config (no discovery: the providers' IMAP/POP scopes are not OpenID Connect), errors
 * translated into ours.
 */
import * as client from 'openid-client';
import type { OAuthSettings } from '../config/oauth.js';
import { ProtocolError } from '../core/errors.js';

/** The token endpoint refused the grant itself (`invalid_grant`: revoked, expired, rotated away). */
export class GrantRefusedError extends Error {
  constructor(readonly description: string) {
    super(`the token endpoint refused the grant: ${description}`);
    this.name = this.constructor.name;
  }
}

/**
 * A device login the user did not complete: refused at the provider (`access_denied`) or the
 * code expired first (`expired_token`), RFC 8628 section 3.5. Only a new login helps.
 */
export class DeviceLoginEndedError extends ProtocolError {
  constructor(
    readonly outcome: 'refused' | 'expired',
    message: string,
  ) {
    super(message, 'EPROTOCOL');
  }
}

/** Seconds an answer of the token endpoint may take. */
const REQUEST_TIMEOUT_SECONDS = 30;

/** The openid-client configuration for `s`; plain http only for a token server on loopback. */
export function oauthClient(s: OAuthSettings): client.Configuration {
  const server: client.ServerMetadata = {
    issuer: new URL(s.tokenUrl).origin,
    token_endpoint: s.tokenUrl,
    device_authorization_endpoint: s.deviceAuthorizationUrl,
  };
  // Google's device clients have a secret (sent in the body); Microsoft's public clients have none.
  const auth = s.clientSecret ? client.ClientSecretPost(s.clientSecret.reveal()) : client.None();
  const config = new client.Configuration(server, s.clientId, undefined, auth);
  config.timeout = REQUEST_TIMEOUT_SECONDS;
  if ([s.tokenUrl, s.deviceAuthorizationUrl].some((u) => new URL(u).protocol === 'http:')) {
    client.allowInsecureRequests(config); // the config schema allows http only on loopback
  }
  return config;
}

/** What a successful grant hands over. */
export interface GrantedTokens {
  accessToken: string;
  /** Absent when the server keeps the old refresh token valid (no rotation). */
  refreshToken?: string | undefined;
  /** Seconds, as the server said; undefined when it did not say. */
  expiresIn?: number | undefined;
}

function granted(r: client.TokenEndpointResponse): GrantedTokens {
  return { accessToken: r.access_token, refreshToken: r.refresh_token, expiresIn: r.expires_in };
}

/**
 * openid-client's failures in our terms: `invalid_grant` → {@link GrantRefusedError} (only a
 * new login helps); any other OAuth error answer, a network failure or a timeout →
 * `ProtocolError` (a later try may work). The message names the endpoint, never a token.
 */
function translate(err: unknown, endpoint: string): Error {
  if (err instanceof client.ResponseBodyError) {
    const why = err.error_description ? `${err.error}: ${err.error_description.slice(0, 200)}` : err.error;
    if (err.error === 'invalid_grant') return new GrantRefusedError(why);
    if (err.error === 'access_denied')
      return new DeviceLoginEndedError('refused', `the sign-in was refused at the provider (${why})`);
    if (err.error === 'expired_token')
      return new DeviceLoginEndedError('expired', `the code expired before the sign-in (${why})`);
    return new ProtocolError(`OAuth ${endpoint} answered ${err.status} ${why}`, 'EPROTOCOL');
  }
  const code = (err as { code?: unknown }).code;
  const text = err instanceof Error ? err.message : String(err);
  const named = typeof code === 'string' ? `${text} (${code})` : text;
  // openid-client's own codes (OAUTH_INVALID_RESPONSE...) mean an answer it could not accept.
  const kind = typeof code === 'string' && code.startsWith('OAUTH_') ? 'EPROTOCOL' : 'ECONNECTION';
  return new ProtocolError(`OAuth ${endpoint}: ${named}`, kind);
}

/** Exchanges a refresh token for a new access token (and maybe a new refresh token). */
export async function refreshGrant(s: OAuthSettings, refreshToken: string): Promise<GrantedTokens> {
  try {
    return granted(
      await client.refreshTokenGrant(oauthClient(s), refreshToken, { scope: s.scopes.join(' ') }),
    );
  } catch (err) {
    throw translate(err, s.tokenUrl);
  }
}

/** What the user is shown: where to go and which code to enter. */
export interface DeviceLoginPrompt {
  verificationUri: string;
  /** The URI with the code in it, when the server offers one. */
  verificationUriComplete?: string | undefined;
  userCode: string;
  expiresInSeconds: number;
}

/**
 * Starts a device login; `prompt` tells the user what to do, then the token endpoint is polled
 * at the server's `interval` (5 s more after each `slow_down`) until the user approved it,
 * refused it (`access_denied`), or the code expired.
 */
export async function deviceLogin(
  s: OAuthSettings,
  prompt: (p: DeviceLoginPrompt) => void,
  signal?: AbortSignal,
): Promise<GrantedTokens> {
  const config = oauthClient(s);
  let started: client.DeviceAuthorizationResponse;
  try {
    started = await client.initiateDeviceAuthorization(config, { scope: s.scopes.join(' ') });
  } catch (err) {
    throw translate(err, s.deviceAuthorizationUrl);
  }
  prompt({
    verificationUri: started.verification_uri,
    verificationUriComplete: started.verification_uri_complete,
    userCode: started.user_code,
    expiresInSeconds: started.expires_in,
  });
  try {
    return granted(
      await client.pollDeviceAuthorizationGrant(config, started, undefined, signal ? { signal } : {}),
    );
  } catch (err) {
    throw translate(err, s.tokenUrl);
  }
}
