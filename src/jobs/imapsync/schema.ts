/**
 * The imapsync job's payload contract: a configured task by id, or an ad-hoc task whose remote
 * credentials are sealed with the mailjobs secrets key (`mailjobs seal`, or `sealSecret` from
 * `mailjobs/client`): job data never holds a plaintext password.
 */
import { z } from 'zod';
import { hostName } from '../../config/host.js';
import { syncOptions } from '../../config/sync-options.js';
import { SEALED_PREFIX, UNBOUND_MESSAGE, UNBOUND_SEALED_PREFIX } from '../../core/crypto.js';
import type { Config } from '../../config/schema.js';
import type { SyncTaskConfig } from '../../config/sync-schema.js';
import { NotInConfigError } from '../../core/errors.js';
import { mailSecuritySchema } from '../../mail/tls.js';
import type { JobContract } from '../types.js';

const sealed = z.string().superRefine((v, ctx) => {
  if (v.startsWith(SEALED_PREFIX)) return;
  ctx.addIssue({
    code: 'custom',
    message: v.startsWith(UNBOUND_SEALED_PREFIX)
      ? UNBOUND_MESSAGE
      : `must be sealed with the mailjobs secrets key for this host, port and user ("${SEALED_PREFIX}...": mailjobs seal, or sealSecret from mailjobs/client); a plaintext password is refused`,
  });
});

const adhocRemote = z
  .strictObject({
    host: hostName,
    port: z.number().int().min(1).max(65535).optional(),
    security: mailSecuritySchema.default('tls'),
    verifyCertificate: z.boolean().default(true),
    /** The mailbox to migrate. */
    username: z.string().min(1),
    /** The mailbox owner's password, sealed. */
    password: sealed.optional(),
    /** Or an admin login, its password sealed: `user*admin` (separator) or SASL PLAIN authzid. */
    admin: z
      .strictObject({
        user: z.string().min(1),
        password: sealed,
        method: z.enum(['separator', 'authzid']).default('separator'),
        separator: z.string().length(1).default('*'),
      })
      .optional(),
  })
  .superRefine((r, ctx) => {
    if ((r.password === undefined) === (r.admin === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['password'],
        message: 'exactly one of password, admin is required',
      });
  });

const adhocTask = z.strictObject({
  /** The local user to copy into (logged in as `<localUser>*<masterUser>`). */
  localUser: z
    .string()
    .min(1)
    .regex(/^[^*]+$/, 'must not contain "*"'),
  remote: adhocRemote,
  options: syncOptions.prefault({}),
});

/** The payload: `{ task }` or `{ adhoc }`, plus this run's modes. */
export const imapsyncPayload = z
  .strictObject({
    /** A task id from the config's `sync:`. */
    task: z.string().min(1).optional(),
    /** Or the whole task, on demand. */
    adhoc: adhocTask.optional(),
    /** Run modes for this run only (override the task's options). */
    dryRun: z.boolean().optional(),
    justFolders: z.boolean().optional(),
    testLogin: z.boolean().optional(),
  })
  .superRefine((p, ctx) => {
    if ((p.task === undefined) === (p.adhoc === undefined))
      ctx.addIssue({ code: 'custom', path: ['task'], message: 'exactly one of task, adhoc is required' });
  });

/** A validated payload. */
export type ImapsyncPayload = z.output<typeof imapsyncPayload>;
/** An ad-hoc task, credentials still sealed. */
export type AdhocTask = z.output<typeof adhocTask>;

/** The target (and state key) of an ad-hoc task: the same local user and remote account continue. */
export function adhocTarget(t: AdhocTask): string {
  return `adhoc:${t.localUser}<${t.remote.username}@${t.remote.host}`;
}

/** The configured task `id`; a `NotInConfigError` when the config's `sync:` has none. */
export function findTask(config: Config, id: string): SyncTaskConfig {
  const task = config.sync.find((t) => t.id === id);
  if (!task) throw new NotInConfigError(`imapsync: no task "${id}" in the config's sync:`, 'ENOTASK');
  return task;
}

/**
 * The imapsync contract: one job per task (or ad-hoc user and account) at a time; failures
 * other than permanent ones (login, TLS, payload) are retried with backoff.
 */
export const imapsyncContract = {
  name: 'imapsync',
  summary: 'Copy a remote IMAP account into a local mailbox, incrementally (folders, messages, flags)',
  schema: imapsyncPayload,
  target: (p: ImapsyncPayload) => (p.task !== undefined ? p.task : adhocTarget(p.adhoc!)),
  checkInConfig: (p: ImapsyncPayload, config: Config) => {
    if (p.task !== undefined) findTask(config, p.task);
  },
  retry: { attempts: 3, backoffSeconds: 60 },
} satisfies JobContract<typeof imapsyncPayload>;
