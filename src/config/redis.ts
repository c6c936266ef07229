/**
 * The `redis:` config section: where Redis is (a URL, a Sentinel set or a Cluster) and how to log
 * in (ACL user, password file, TLS files). Resolved into the `RedisSettings` every connection is
 * built from (src/core/redis-settings.ts). A password in the URL is accepted; `config check`
 * masks it.
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
  const nodes = z
    .array(
      z.strictObject({
        host: z.string().min(1),
        port: z.number().int().min(1).max(65535),
      }),
    )
    .min(1, 'list at least one { host, port }');
  return z
    .strictObject({
      url: z.string().regex(URL_RULE, 'must start with redis://, rediss:// or unix:/').optional(),
      /** A Sentinel set: its sentinels, the master group's `name`, the sentinels' own login. */
      sentinels: nodes.optional(),
      name: z.string().min(1).optional(),
      sentinelUsername: z.string().min(1).optional(),
      sentinelPasswordFile: secretFile.optional(),
      /** A Redis Cluster: some of its nodes. */
      cluster: nodes.optional(),
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
      const modes = [r.url && 'url (or REDIS_URL)', r.sentinels && 'sentinels', r.cluster && 'cluster'];
      if (modes.filter(Boolean).length > 1)
        ctx.addIssue({
          code: 'custom',
          path: [],
          message: `set only one of ${modes.filter(Boolean).join(', ')}`,
        });
      if (r.sentinels && !r.name)
        ctx.addIssue({
          code: 'custom',
          path: ['name'],
          message: 'the Sentinel master name is needed with sentinels',
        });
      for (const field of ['name', 'sentinelUsername', 'sentinelPasswordFile'] as const)
        if (r[field] !== undefined && !r.sentinels)
          ctx.addIssue({ code: 'custom', path: [field], message: 'only with sentinels' });
      if (r.tls && !r.sentinels && !r.cluster && !r.url?.startsWith('rediss://'))
        ctx.addIssue({
          code: 'custom',
          path: ['tls'],
          message: 'needs a rediss:// url (or sentinels or cluster)',
        });
      if (r.tls && !r.tls.certFile !== !r.tls.keyFile)
        ctx.addIssue({ code: 'custom', path: ['tls'], message: 'certFile and keyFile go together' });
    })
    .transform(({ passwordFile, sentinelPasswordFile, ...rest }) => ({
      ...rest,
      ...(passwordFile ? { password: passwordFile } : {}),
      ...(sentinelPasswordFile ? { sentinelPassword: sentinelPasswordFile } : {}),
    }))
    .default({ prefix: 'mailjobs' });
}
