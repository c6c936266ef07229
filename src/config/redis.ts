/**
 * The `redis:` config section: where Redis is and how to log in (ACL user, password file,
 * TLS files for `rediss://`). Resolved into the `RedisSettings` every connection is built from
 * (src/core/redis-settings.ts). A password in the URL is accepted; `config check` masks it.
 */
import { accessSync, constants } from 'node:fs';
import { z } from 'zod';
import type { SecretField } from './schema.js';

const URL_RULE = /^rediss?:\/\/|^unix:\//;

export function redisSchema(secretFile: SecretField, resolvePath: (path: string) => string) {
  /** A certificate or key file, resolved and checked here so a typo stops start-up naming the field. */
  const readableFile = z
    .string()
    .min(1)
    .transform((path, ctx) => {
      const full = resolvePath(path);
      try {
        accessSync(full, constants.R_OK);
      } catch (err) {
        const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        ctx.addIssue({ code: 'custom', message: `cannot read "${full}": ${reason}` });
      }
      return full;
    });
  return z
    .strictObject({
      url: z.string().regex(URL_RULE, 'must start with redis://, rediss:// or unix:/').optional(),
      /** ACL user (Redis 6+); unset: Redis's default user. */
      username: z.string().min(1).optional(),
      passwordFile: secretFile.optional(),
      tls: z
        .strictObject({
          caFile: readableFile.optional(),
          certFile: readableFile.optional(),
          keyFile: readableFile.optional(),
        })
        .optional(),
      prefix: z
        .string()
        .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only')
        .default('mailjobs'),
    })
    .superRefine((r, ctx) => {
      if (r.tls && !r.url?.startsWith('rediss://'))
        ctx.addIssue({ code: 'custom', path: ['tls'], message: 'needs a rediss:// url' });
      if (r.tls && !r.tls.certFile !== !r.tls.keyFile)
        ctx.addIssue({ code: 'custom', path: ['tls'], message: 'certFile and keyFile go together' });
    })
    .transform(({ passwordFile, ...rest }) => ({
      ...rest,
      ...(passwordFile ? { password: passwordFile } : {}),
    }))
    .default({ prefix: 'mailjobs' });
}
