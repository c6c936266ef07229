/**
 * The `metrics:` config section: who may scrape `/metrics` besides a logged-in dashboard user
 * (a bearer token read from a file), and an optional listener of its own for the scraper.
 */
import { z } from 'zod';
import type { SecretField } from './schema.js';

export function metricsSchema(secretFile: SecretField) {
  return z
    .strictObject({
      /** A file holding the bearer token Prometheus sends (`Authorization: Bearer <token>`). */
      tokenFile: secretFile.optional(),
      /** Also serve /metrics, /healthz and /readyz on this port (bearer token only, no login). */
      port: z.number().int().min(1).max(65535).optional(),
      /** The metrics listener's address (with `port`). */
      bind: z.string().min(1).default('127.0.0.1'),
    })
    .superRefine((m, ctx) => {
      if (m.port !== undefined && !m.tokenFile)
        ctx.addIssue({
          code: 'custom',
          path: ['tokenFile'],
          message: 'required with metrics.port: the metrics listener has no login, only the token',
        });
      const token = m.tokenFile?.reveal() ?? '';
      // Empty: the file could not be read, which readSecret reported already.
      if (token.length > 0 && token.trim().length < 16)
        ctx.addIssue({
          code: 'custom',
          path: ['tokenFile'],
          message: 'the token must be at least 16 characters (e.g. openssl rand -hex 32)',
        });
    })
    .prefault({});
}

export type MetricsConfig = z.output<ReturnType<typeof metricsSchema>>;
