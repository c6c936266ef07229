/**
 * The `dashboard:` config section: where the web dashboard listens, who may log in, and how
 * long a session lasts. Kept apart from schema.ts so that file only names it.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { parsePasswordHash } from '../dashboard/password.js';
import { Secret } from './secret.js';

/** Not a password, but an offline guessing target: kept out of `config check`, logs and JSON. */
const passwordHash = z
  .string()
  .superRefine((value, ctx) => {
    const problem = parsePasswordHash(value).problem;
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .transform((value) => new Secret(value, 'config'));

const dashboardUser = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_.@-]+$/, 'letters, digits, _ . @ - only'),
  role: z.enum(['admin', 'viewer']),
  /** `scrypt$N$r$p$salt$hash` (base64url), as `mailjobs dashboard add-user` writes it. */
  passwordHash,
});

/** An address or CIDR (`10.0.0.0/8`), or proxy-addr's names for ranges (`loopback` …). */
const proxyAddress = z.string().refine((v) => {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(v)) return true;
  const [ip, bits, ...rest] = v.split('/');
  const family = isIP(ip ?? '');
  if (family === 0 || rest.length > 0) return false;
  return bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}, 'not an IP address, a CIDR (10.0.0.0/8) or loopback | linklocal | uniquelocal');

/**
 * Which reverse proxies' X-Forwarded-* to believe: their addresses. `true` (believe every hop)
 * is refused: it takes the left-most X-Forwarded-For, which the client writes itself. No hop
 * count either: Fastify 5 trusts nobody for one, as it cannot tell a proxy from a client.
 */
const trustProxy = z
  .union([z.array(proxyAddress).min(1), z.boolean()])
  .superRefine((v, ctx) => {
    if (v === true)
      ctx.addIssue({
        code: 'custom',
        message:
          "true would believe the X-Forwarded-For a client sends; list the reverse proxies' addresses instead, e.g. [127.0.0.1]",
      });
  })
  .default(false);

/** A host name the dashboard may be reached by (see `allowedHosts`). */
const hostName = z
  .string()
  .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/, 'a host name without port, e.g. mail.example.org');

export const dashboardSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Listen address: keep 127.0.0.1 and put a TLS reverse proxy in front for remote access. */
    bind: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(8080),
    users: z
      .array(dashboardUser)
      .default([])
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((u, i) => {
          if (seen.has(u.name))
            ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate user "${u.name}"` });
          seen.add(u.name);
        });
      }),
    /** A session ends this long after login. */
    sessionHours: z.number().positive().max(720).default(12),
    /** Session cookie `Secure`: `auto` sets it when the request came over TLS (see trustProxy). */
    secureCookie: z.union([z.literal('auto'), z.boolean()]).default('auto'),
    /** Behind reverse proxies: their addresses or CIDRs, whose X-Forwarded-For/-Proto/-Host count. */
    trustProxy,
    /**
     * Host names (besides IP addresses and localhost) requests may name in `Host`; others get
     * 421, so a DNS-rebound name cannot reach the dashboard from a browser.
     */
    allowedHosts: z.array(hostName).default([]),
    /**
     * Failed logins per window and client address, then 429 until the window ends; per user
     * name, a delay that doubles with each failure (1 s, 2 s, …) up to `maxUserDelaySeconds`.
     */
    loginLimits: z
      .strictObject({
        perAddress: z.number().int().min(1).default(20),
        windowMinutes: z.number().int().min(1).default(15),
        maxUserDelaySeconds: z.number().int().min(1).max(3600).default(30),
      })
      .prefault({}),
  })
  .prefault({});

export type DashboardConfig = z.output<typeof dashboardSchema>;
export type DashboardUserConfig = DashboardConfig['users'][number];
