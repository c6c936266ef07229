/**
 * The syntax of a remote host, for configured and ad-hoc tasks and `mailjobs seal`: a host name
 * (RFC 1123 labels) or an IP literal. Nothing else reaches a resolver or a connection: no white
 * space or line break (a header or log line injected), no leading "-" (read as an option by a
 * tool further down), no brackets, ports or user parts.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

/** RFC 1123 section 2.1: letters, digits and inner hyphens, 63 characters at most. */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/** What is wrong with `host` as a host name or IP literal, or undefined when nothing is. */
export function hostSyntaxProblem(host: string): string | undefined {
  if (isIP(host) !== 0) return undefined;
  if (/[\s\p{Cc}]/u.test(host)) return 'must not contain white space, line breaks or control characters';
  if (host.startsWith('-')) return 'must not start with "-"';
  if (host.length > 253 || !host.split('.').every((label) => LABEL.test(label))) {
    return 'must be a host name (letters, digits, inner "-", dot-separated) or an IP address';
  }
  return undefined;
}

/** A host name or IP literal (see {@link hostSyntaxProblem}). */
export const hostName = z
  .string()
  .min(1)
  .superRefine((host, ctx) => {
    const problem = hostSyntaxProblem(host);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** `10.0.0.0/8`, `fd00::/8` or one address (`127.0.0.1`): its address, prefix length and family. */
export function parseAddressRange(
  entry: string,
): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', bits, ...rest] = entry.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** An IP address or a CIDR range, checked at config load. */
export const addressRange = z
  .string()
  .refine(
    (entry) => parseAddressRange(entry) !== undefined,
    'must be an IP address or a CIDR range (10.0.0.0/8, fd00::/8)',
  );
