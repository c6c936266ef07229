/**
 * The config file's schema. Every default is filled in here, so the rest of the code reads
 * one typed `Config` and never guesses. Secret files are read by `secretFrom` (see load.ts).
 */
import { z } from 'zod';
import { alertsSchema } from './alerts.js';
import { cronSchedule } from './cron.js';
import { type OAuthSettings, oauthAuthSchema, resolveOAuth } from './oauth.js';
import { Secret } from './secret.js';
import { dashboardSchema } from './dashboard.js';
import { bayesLearnSchema, spamExpungeSchema } from './junk.js';
import { redisSchema } from './redis.js';
import { freshclamSchema, postfixSchema, queueMonitorSchema } from './maintenance.js';
import { metricsSchema } from './metrics.js';
import { quarantineSchema } from './quarantine.js';
import { syncConfigShape } from './sync-schema.js';
import { mailSecuritySchema } from '../mail/tls.js';

/** Reads a secret file (path relative to the config file); reports a clear issue on failure. */
export type SecretReader = (path: string, ctx: z.RefinementCtx) => Secret | typeof z.NEVER;
/** A config field holding a secret file's path (or an inline secret), parsed into a `Secret`. */
export type SecretField = z.ZodType<Secret, string>;

const port = z.number().int().min(1).max(65535);
const host = z.string().min(1);

/** Keep `maxStreamMegabytes` at or below clamd's own StreamMaxLength (Debian: 25M). */
const clamdLimits = {
  timeoutSeconds: z.number().min(1).default(60),
  maxStreamMegabytes: z.number().min(1).default(25),
};

const scheduleSchema = z.union([
  cronSchedule,
  z.strictObject({ everySeconds: z.number().int().min(1) }),
  z.strictObject({ enabled: z.literal(false) }),
]);

/** `resolvePath`: plain file paths (not secrets) relative to the config file, e.g. `secrets.keyFile`. */
export function configSchema(readSecret: SecretReader, resolvePath: (path: string) => string = (p) => p) {
  const secretFile = z.string().min(1).transform(readSecret);
  const inlineSecret = z
    .string()
    .min(1)
    .transform((v) => new Secret(v, 'inline'));

  const connector = z
    .strictObject({
      id: z.string().min(3),
      protocol: z.enum(['pop3', 'imap']),
      security: mailSecuritySchema.default('tls'),
      host,
      port: port.optional(),
      username: z.string().min(1),
      password: inlineSecret.optional(),
      passwordFile: secretFile.optional(),
      auth: oauthAuthSchema(secretFile).optional(),
      deliverTo: z.string().min(1),
      delete: z
        .union([z.enum(['never', 'immediately']), z.strictObject({ afterDays: z.number().int().min(1) })])
        .default('never'),
      folders: z.union([z.literal('all'), z.array(z.string().min(1)).min(1)]).default(['INBOX']),
      intervalMinutes: z.number().int().min(1).max(10080).default(30),
      /**
       * IMAP only: watch the account with IDLE and fetch as soon as mail arrives (getmail
       * `push`). Unset: on when the server announces IDLE (learned on the first connection).
       */
      push: z.boolean().optional(),
      enabled: z.boolean().default(true),
      verifyCertificate: z.boolean().default(true),
      filters: z
        .strictObject({ antispam: z.boolean().default(false), antivirus: z.boolean().default(false) })
        .default({ antispam: false, antivirus: false }),
    })
    .superRefine((c, ctx) => {
      const given = (['password', 'passwordFile', 'auth'] as const).filter((k) => c[k] !== undefined);
      if (given.length !== 1)
        ctx.addIssue({
          code: 'custom',
          path: ['passwordFile'],
          message: `exactly one of password, passwordFile or auth is required${given.length ? ` (got ${given.join(', ')})` : ''}`,
        });
      if (c.push && c.protocol !== 'imap')
        ctx.addIssue({
          code: 'custom',
          path: ['push'],
          message: 'push needs protocol imap (POP3 has no IDLE)',
        });
    })
    .transform(({ passwordFile, password, auth, ...rest }) => {
      const login: ConnectorLogin = auth
        ? { kind: 'oauth2', oauth: resolveOAuth(auth, rest.protocol) }
        : { kind: 'password', password: (password ?? passwordFile) as Secret };
      return { ...rest, login };
    });

  return z.strictObject({
    redis: redisSchema(secretFile, resolvePath),
    workers: z
      .strictObject({
        concurrency: z.record(z.string(), z.number().int().min(1).max(1000)).default({}),
        lockDurationSeconds: z.number().int().min(5).default(30),
        /** See src/worker/watchdog.ts: 0 turns it off; BullMQ's own bound on one wait is 11 s. */
        watchdogSeconds: z
          .number()
          .int()
          .min(0)
          .refine((s) => s === 0 || s >= 15, 'must be 0 (off) or at least 15')
          .default(30),
      })
      .default({ concurrency: {}, lockDurationSeconds: 30, watchdogSeconds: 30 }),
    schedules: z.record(z.string(), scheduleSchema).default({}),
    dovecot: z
      .strictObject({
        imap: z
          .strictObject({
            host: host.default('127.0.0.1'),
            port: port.default(143),
            security: mailSecuritySchema.default('starttls'),
            verifyCertificate: z.boolean().default(false),
          })
          .default({ host: '127.0.0.1', port: 143, security: 'starttls', verifyCertificate: false }),
        lmtp: z
          .union([z.strictObject({ socket: z.string().min(1) }), z.strictObject({ host, port })])
          .default({ host: '127.0.0.1', port: 24 }),
        masterUser: z.string().min(1).default('vmail'),
        masterPasswordFile: secretFile.optional(),
      })
      .default({
        imap: { host: '127.0.0.1', port: 143, security: 'starttls', verifyCertificate: false },
        lmtp: { host: '127.0.0.1', port: 24 },
        masterUser: 'vmail',
      }),
    rspamd: z
      .strictObject({
        url: z.url().default('http://127.0.0.1:11333'),
        controllerUrl: z.url().default('http://127.0.0.1:11334'),
        passwordFile: secretFile.optional(),
        timeoutSeconds: z.number().min(1).default(30),
      })
      .default({
        url: 'http://127.0.0.1:11333',
        controllerUrl: 'http://127.0.0.1:11334',
        timeoutSeconds: 30,
      }),
    clamd: z
      .union([
        z.strictObject({ socket: z.string().min(1), ...clamdLimits }),
        z.strictObject({ host, port, ...clamdLimits }),
      ])
      .default({ socket: '/run/clamd.scan/clamd.sock', timeoutSeconds: 60, maxStreamMegabytes: 25 }),
    postfix: postfixSchema,
    getmail: z
      .strictObject({
        maxMessagesPerRun: z.number().int().min(1).default(1000),
        maxMegabytesPerRun: z.number().min(1).default(1024),
        maxMessageMegabytes: z.number().min(1).default(100),
        connectTimeoutSeconds: z.number().min(1).default(30),
        commandTimeoutSeconds: z.number().min(1).default(300),
        /** LMTP deliveries side by side per account: Dovecot fsyncs each one, so parallel ones add up. */
        lmtpConnections: z.number().int().min(1).max(32).default(4),
        /** LMTP connections of all accounts of one worker process; keep below Dovecot's lmtp process_limit (100). */
        maxLmtpConnectionsPerProcess: z.number().int().min(1).default(32),
        /** What to do with mail Rspamd wants rejected: file it as spam (default) or drop it. */
        rejectedSpam: z.enum(['junk', 'discard']).default('junk'),
        spamSubjectPrefix: z.string().optional(),
        /** How long an account's fetch state outlives its last run (so re-adding it redelivers nothing). */
        stateRetentionDays: z.number().int().min(1).default(90),
        /** A message that fails on its own this many runs in a row is held: not tried until an admin says so. */
        holdAfterFailures: z.number().int().min(1).default(3),
        push: z
          .strictObject({
            /** IDLE is ended and issued again this often: below 29 minutes (RFC 2177 section 3). */
            idleRestartSeconds: z.number().int().min(1).max(1740).default(1500),
            /** An account's watch lease: a dead worker's accounts are watched again within it. */
            leaseSeconds: z.number().int().min(5).max(600).default(30),
            /** New-mail events within this window after a fetch is queued become one more fetch. */
            debounceMilliseconds: z.number().int().min(0).max(60_000).default(1000),
            /** Reconnects back off exponentially (with jitter) up to this. */
            maxReconnectSeconds: z.number().int().min(1).max(3600).default(300),
          })
          .prefault({}),
      })
      .prefault({}),
    /**
     * Accounts in session at once with one remote host (connectors' POP3/IMAP, sync tasks'
     * remote side), across all workers, so many accounts at one provider stay within what it
     * tolerates. A sync run counts once, whatever its `imapsync.parallelFolders`.
     */
    remoteSessionsPerHost: z.number().int().min(1).max(100_000).default(4),
    spamExpunge: spamExpungeSchema,
    bayesLearn: bayesLearnSchema,
    freshclam: freshclamSchema,
    queueMonitor: queueMonitorSchema,
    alerts: alertsSchema,
    quarantine: quarantineSchema,
    ...syncConfigShape(secretFile, inlineSecret, resolvePath),
    dashboard: dashboardSchema,
    metrics: metricsSchema(secretFile),
    connectors: z
      .array(connector)
      .default([])
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((c, i) => {
          if (seen.has(c.id))
            ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate connector id "${c.id}"` });
          seen.add(c.id);
        });
      }),
  });
}

export type ConfigSchema = ReturnType<typeof configSchema>;
/** The file as written (defaults optional). */
export type ConfigInput = z.input<ConfigSchema>;
/** The resolved config: defaults filled in, secrets as `Secret`. */
export type Config = z.output<ConfigSchema>;
export type ConnectorConfig = Config['connectors'][number];
/** How a connector logs in: its password, or OAuth 2.0 tokens (`mailjobs oauth login`). */
export type ConnectorLogin =
  { kind: 'password'; password: Secret } | { kind: 'oauth2'; oauth: OAuthSettings };
export type ScheduleConfig = z.output<typeof scheduleSchema>;
