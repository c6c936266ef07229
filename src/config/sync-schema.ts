/**
 * The config sections of the imapsync job: `secrets` (the key that seals credentials in job
 * data), `imapsync` (limits shared by every task) and `sync` (the configured tasks). Spread
 * into the config schema by schema.ts, which hands over its secret-file readers.
 */
import { z } from 'zod';
import { addressRange, hostName } from './host.js';
import { type OAuthSettings, oauthAuthSchema, resolveOAuth } from './oauth.js';
import { cronSchedule } from './cron.js';
import type { Config, SecretField } from './schema.js';
import type { Secret } from './secret.js';
import { expandDomains } from './sync-domain.js';
import { syncOptions } from './sync-options.js';
import { type MailSecurity, mailSecuritySchema } from '../mail/tls.js';

const port = z.number().int().min(1).max(65535);

/**
 * How the remote side logs in. `user`: the mailbox owner's own password. `master`: an admin
 * logs in as `<username><separator><admin>` with the admin's password (Dovecot's and Zimbra's
 * master-user syntax). `authzid`: AUTHENTICATE PLAIN as the admin with the mailbox owner as
 * authorization identity (RFC 4616 section 2). `oauth2`: an access token (SASL OAUTHBEARER or
 * XOAUTH2) from the refresh token `mailjobs oauth login` stored for the task.
 */
export type RemoteLogin =
  | { kind: 'user'; username: string; password: Secret }
  | { kind: 'oauth2'; username: string; oauth: OAuthSettings }
  | { kind: 'master'; username: string; admin: string; separator: string; password: Secret }
  | { kind: 'authzid'; username: string; admin: string; password: Secret };

/** Where the remote account is, and how to log in. */
export interface RemoteAccount {
  host: string;
  port?: number | undefined;
  security: MailSecurity;
  verifyCertificate: boolean;
  login: RemoteLogin;
}

const exactlyOne = (
  obj: Record<string, unknown>,
  keys: string[],
  ctx: z.RefinementCtx,
  path: (string | number)[] = [],
): void => {
  const given = keys.filter((k) => obj[k] !== undefined);
  if (given.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      path: [...path, keys[keys.length - 1]!],
      message: `exactly one of ${keys.join(', ')} is required${given.length ? ` (got ${given.join(', ')})` : ''}`,
    });
  }
};

/** The `remote:` block of a configured task, resolved into a {@link RemoteAccount}. */
export function remoteAccountSchema(secretFile: SecretField, inlineSecret: SecretField) {
  const admin = z
    .strictObject({
      user: z.string().min(1),
      password: inlineSecret.optional(),
      passwordFile: secretFile.optional(),
      method: z.enum(['separator', 'authzid']).default('separator'),
      separator: z.string().length(1).default('*'),
    })
    .superRefine((a, ctx) => exactlyOne(a, ['password', 'passwordFile'], ctx));
  return z
    .strictObject({
      host: hostName,
      port: port.optional(),
      security: mailSecuritySchema.default('tls'),
      verifyCertificate: z.boolean().default(true),
      /** The mailbox to migrate. */
      username: z.string().min(1),
      password: inlineSecret.optional(),
      passwordFile: secretFile.optional(),
      admin: admin.optional(),
      auth: oauthAuthSchema(secretFile).optional(),
    })
    .superRefine((r, ctx) => exactlyOne(r, ['password', 'admin', 'auth', 'passwordFile'], ctx))
    .transform(({ username, password, passwordFile, admin: a, auth, ...where }): RemoteAccount => {
      if (auth) return { ...where, login: { kind: 'oauth2', username, oauth: resolveOAuth(auth, 'imap') } };
      if (!a) return { ...where, login: { kind: 'user', username, password: (password ?? passwordFile)! } };
      const secret = (a.password ?? a.passwordFile)!;
      return {
        ...where,
        login:
          a.method === 'authzid'
            ? { kind: 'authzid', username, admin: a.user, password: secret }
            : { kind: 'master', username, admin: a.user, separator: a.separator, password: secret },
      };
    });
}

const taskSchedule = z.union([
  cronSchedule,
  z.strictObject({ everyMinutes: z.number().int().min(1).max(525_600) }),
]);

/** The config entries `secrets`, `imapsync` and `sync`, for the top-level config object. */
export function syncConfigShape(
  secretFile: SecretField,
  inlineSecret: SecretField,
  resolvePath: (path: string) => string,
) {
  const task = z.strictObject({
    /** Stable id: the job payload's `task`, the key of the task's state. */
    id: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[^\s:]+$/, 'no spaces or ":"'),
    /** The local (Dovecot) user the mail is copied into, logged in as `<localUser>*<masterUser>`. */
    localUser: z
      .string()
      .min(1)
      .regex(/^[^*]+$/, 'must not contain "*"'),
    remote: remoteAccountSchema(secretFile, inlineSecret),
    options: syncOptions.prefault({}),
    /** Default: on demand only (dashboard, API, `mailjobs enqueue`). */
    schedule: taskSchedule.optional(),
    enabled: z.boolean().default(true),
  });
  return {
    secrets: z
      .strictObject({
        /** AES-256-GCM key sealing credentials inside job data; created (0600) on first use. */
        keyFile: z.string().min(1).default('/var/lib/mailjobs/secrets.key').transform(resolvePath),
      })
      .prefault({}),
    imapsync: z
      .strictObject({
        /** Folders synchronised at once, each over its own pair of connections. */
        parallelFolders: z.number().int().min(1).max(16).default(2),
        connectTimeoutSeconds: z.number().min(1).default(30),
        commandTimeoutSeconds: z.number().min(1).default(300),
        /**
         * Sync runs at once across every worker sharing the Redis, and per remote host (default:
         * `remoteSessionsPerHost`, whose slots they share). A run beyond a cap waits (delayed,
         * not failed) and shows as waiting for a slot.
         */
        maxRunning: z.number().int().min(1).max(10_000).default(16),
        maxRunningPerHost: z.number().int().min(1).max(1000).optional(),
        /** How long a host is paused after a throttling answer that names no time (`NO [THROTTLED]`). */
        throttlePauseSeconds: z.number().int().min(1).max(86_400).default(300),
        /** Reconnections per run after dropped connections before the run fails (and is retried). */
        maxReconnects: z.number().int().min(0).default(5),
        /** How long a task's state (a cache: losing it copies nothing twice) outlives its last run. */
        stateRetentionDays: z.number().int().min(1).default(180),
        /**
         * Where ad-hoc tasks (job payloads, the dashboard's form) may connect: never to loopback,
         * link-local or this host's own addresses, nor to `deny`, unless the address is in
         * `allow`. Every address the host name resolves to is checked. Configured tasks are
         * the admin's own choice and not checked.
         */
        adhoc: z
          .strictObject({
            allow: z.array(addressRange).default([]),
            deny: z.array(addressRange).default([]),
          })
          .prefault({}),
      })
      .prefault({}),
    // A domain entry (`remote.users` / `usersFile`) becomes one task per user: sync-domain.ts.
    sync: z
      .preprocess(expandDomains(resolvePath), z.array(task))
      .default([])
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((t, i) => {
          if (seen.has(t.id))
            ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate sync task id "${t.id}"` });
          seen.add(t.id);
        });
      }),
  };
}

/** A configured task, resolved. */
export type SyncTaskConfig = Config['sync'][number];
