/**
 * The two SASL mechanisms that carry an OAuth 2.0 bearer token: OAUTHBEARER (RFC 7628) and
 * XOAUTH2 (its older Google/Microsoft predecessor, same fields, no GS2 header). Used by our
 * POP3 client; imapflow builds the same payloads itself for IMAP.
 */
import { AuthenticationError } from '../core/errors.js';

export type OAuthMechanism = 'OAUTHBEARER' | 'XOAUTH2';

/**
 * The mechanism to use among those the server announces (upper case): the standard
 * OAUTHBEARER when offered, XOAUTH2 otherwise, also when the server names neither (many
 * servers accept XOAUTH2 without announcing it, Microsoft's POP3 among them).
 */
export function chooseOAuthMechanism(announced: Iterable<string>): OAuthMechanism {
  return new Set(announced).has('OAUTHBEARER') ? 'OAUTHBEARER' : 'XOAUTH2';
}

/** Who logs in, with which token, to which server (OAUTHBEARER names host and port). */
export interface OAuthLogin {
  user: string;
  accessToken: string;
  host: string;
  port: number;
}

/**
 * The client's first message, base64-encoded. RFC 7628 section 3.1 separates the fields with
 * %x01 and allows no control character in a value: one would end the field early and let the
 * rest pose as a field of its own.
 */
export function oauthInitialResponse(mechanism: OAuthMechanism, l: OAuthLogin): string {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(l.user + l.accessToken)) {
    throw new AuthenticationError(
      `OAuth login of ${JSON.stringify(l.user)}: user or token contains a control character`,
    );
  }
  const fields =
    mechanism === 'OAUTHBEARER'
      ? // GS2 header (RFC 5801 section 4): "," and "=" in the authzid escaped as =2C and =3D.
        [`n,a=${l.user.replace(/=/g, '=3D').replace(/,/g, '=2C')},`, `host=${l.host}`, `port=${l.port}`]
      : [`user=${l.user}`];
  return Buffer.from([...fields, `auth=Bearer ${l.accessToken}`, '', ''].join('\x01')).toString('base64');
}

/**
 * What the client answers to the server's error challenge so that it sends its final failure:
 * a lone %x01 for OAUTHBEARER (RFC 7628 section 3.2.3), an empty response for XOAUTH2.
 */
export function oauthErrorAcknowledgement(mechanism: OAuthMechanism): string {
  return mechanism === 'OAUTHBEARER' ? Buffer.from('\x01').toString('base64') : '';
}

/**
 * The `status` of the server's JSON error challenge (RFC 7628 section 3.2.2: `invalid_token`,
 * `insufficient_scope`...), or undefined when the challenge is not one.
 */
export function oauthErrorStatus(challenge: string): string | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(challenge, 'base64').toString('utf8')) as { status?: unknown };
    return typeof parsed.status === 'string' ? parsed.status.slice(0, 100) : undefined;
  } catch {
    return undefined;
  }
}
