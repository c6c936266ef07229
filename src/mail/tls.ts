/**
 * TLS for every mail client we run (IMAP, POP3): the security modes a connection is opened
 * with, the options given to `tls.connect`, and which failures are TLS failures. The config
 * schemas and job payloads take the modes from here (`mailSecuritySchema`), so a fourth mode
 * would be added in one place.
 */
import { isIP } from 'node:net';
import type tls from 'node:tls';
import { z } from 'zod';

/**
 * `tls`: implicit TLS from the first byte (RFC 8314: port 993 IMAP, 995 POP3). `starttls`:
 * cleartext greeting, then STARTTLS (IMAP, RFC 3501 6.2.1) or STLS (POP3, RFC 2595) before any
 * credential is sent; a server that does not offer it is an error, never a cleartext login.
 * `none`: cleartext throughout (a local server on loopback).
 */
export type MailSecurity = 'tls' | 'starttls' | 'none';

/** The modes, in the order forms and messages list them. */
export const MAIL_SECURITY_MODES = ['tls', 'starttls', 'none'] as const satisfies readonly MailSecurity[];

/** The zod enum of {@link MailSecurity}, for config files and job payloads. */
export const mailSecuritySchema = z.enum(MAIL_SECURITY_MODES);

/** True for one of the {@link MailSecurity} modes (for options checked without zod). */
export function isMailSecurity(value: unknown): value is MailSecurity {
  return (MAIL_SECURITY_MODES as readonly unknown[]).includes(value);
}

/** The server end of a TLS session, and how far to trust it. */
export interface TlsEndpoint {
  host: string;
  port?: number;
  /** Check the certificate chain and the host name. Off only for servers you trust otherwise. */
  verifyCertificate: boolean;
  /** Name for SNI and the certificate check, when it differs from `host`. */
  servername?: string;
  /** Extra trusted CA certificates (PEM), e.g. a private CA. Default: Node's root store. */
  ca?: string | Buffer;
}

/**
 * The `tls.connect` options for `endpoint`, for a new connection or, with `socket` added by the
 * caller, an upgrade (STARTTLS, STLS). The server name goes out as SNI (RFC 6066 section 3)
 * unless it is an IP address, which SNI may not carry.
 */
export function tlsConnectOptions(endpoint: TlsEndpoint): tls.ConnectionOptions {
  const servername = endpoint.servername ?? (isIP(endpoint.host) === 0 ? endpoint.host : undefined);
  return {
    host: endpoint.host,
    ...(endpoint.port !== undefined ? { port: endpoint.port } : {}),
    rejectUnauthorized: endpoint.verifyCertificate,
    ...(servername ? { servername } : {}),
    ...(endpoint.ca ? { ca: endpoint.ca } : {}),
  };
}

/**
 * Node's X.509 verification codes (from OpenSSL, e.g. `DEPTH_ZERO_SELF_SIGNED_CERT`,
 * `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `ERR_TLS_CERT_ALTNAME_INVALID`).
 */
const CERTIFICATE_CODE =
  /CERT|UNABLE_TO_|SELF_SIGNED|HOSTNAME_MISMATCH|INVALID_CA|PATH_LENGTH_EXCEEDED|INVALID_PURPOSE/;

/** How a failure of a TLS connection is to be read. */
export type TlsFailure = 'certificate' | 'handshake';

/**
 * The one classifier of TLS failures: `certificate` when the server's certificate was not
 * accepted, `handshake` for any other failure of the TLS layer (`ERR_TLS_*`, `ERR_SSL_*`,
 * `EPROTO`, OpenSSL's own errors), `undefined` for anything else (a refused connection, a
 * timeout).
 */
export function tlsFailure(err: unknown): TlsFailure | undefined {
  const e = err as { code?: unknown; library?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (CERTIFICATE_CODE.test(code)) return 'certificate';
  if (code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || code === 'EPROTO') return 'handshake';
  if (e?.library === 'SSL routines') return 'handshake';
  return undefined;
}
