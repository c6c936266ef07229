/**
 * The `dashboard:` config section: where the web dashboard listens, who may log in, and how
 * long a session lasts. Kept apart from schema.ts so that file only names it.
 */
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
    /** Behind a reverse proxy: trust its X-Forwarded-For / X-Forwarded-Proto. */
    trustProxy: z.boolean().default(false),
    /** Failed logins allowed per window, per client address and per user name (counted in Redis). */
    loginLimits: z
      .strictObject({
        perAddress: z.number().int().min(1).default(20),
        perUser: z.number().int().min(1).default(10),
        windowMinutes: z.number().int().min(1).default(15),
      })
      .prefault({}),
  })
  .prefault({});

export type DashboardConfig = z.output<typeof dashboardSchema>;
export type DashboardUserConfig = DashboardConfig['users'][number];
