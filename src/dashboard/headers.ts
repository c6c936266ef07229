/**
 * What every answer carries whoever asks (security headers, HSTS over TLS), and the Host check
 * against DNS rebinding: a page on evil.example whose name is made to resolve to 127.0.0.1
 * reaches this server from the victim's browser as same-origin, but with `Host: evil.example`.
 */
import { isIP } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';

const BASE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
];

export function securityHeaders(req: FastifyRequest, reply: FastifyReply, bullBoard: boolean): void {
  // Bull Board's React UI sets style attributes; our pages need no inline style at all.
  const style = bullBoard ? "style-src 'self' 'unsafe-inline'" : "style-src 'self'";
  reply.headers({
    'content-security-policy': [...BASE_CSP, style].join('; '),
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
  });
  // Only over TLS (RFC 6797 §7.2: not over plain HTTP); req.protocol follows a trusted proxy.
  if (req.protocol === 'https') reply.header('strict-transport-security', 'max-age=31536000');
}

/**
 * Whether the request's host name may reach the dashboard: an IP address (no DNS, so no
 * rebinding), `localhost`, or a name in `dashboard.allowedHosts`. The port plays no part.
 */
export function hostAllowed(req: FastifyRequest, allowedHosts: readonly string[]): boolean {
  const host = req.host ? req.hostname.toLowerCase() : ''; // HTTP/1.0 may send no Host
  if (isIP(host.replace(/^\[(.*)\]$/, '$1')) !== 0 || host === 'localhost') return true;
  return allowedHosts.some((h) => h.toLowerCase() === host);
}
