/**
 * An ad-hoc task as a person gives it (the dashboard's form, a line of an import file): the
 * passwords in plain text for this request only, sealed at once with the secrets key for the
 * task's host, port and user, into the `adhoc` payload job data carries.
 */
import { z } from 'zod';
import { hostName } from '../../config/host.js';
import { syncOptions } from '../../config/sync-options.js';
import type { SecretBox } from '../../core/crypto.js';
import { mailSecuritySchema } from '../../mail/tls.js';
import type { AdhocTask } from './schema.js';
import { sealPurpose } from './task.js';

/** The form, passwords in plain text. */
export const adhocForm = z.strictObject({
  host: z.string().trim().pipe(hostName),
  port: z.number().int().min(1).max(65535).optional(),
  security: mailSecuritySchema.default('tls'),
  verifyCertificate: z.boolean().default(true),
  username: z.string().trim().min(1),
  password: z.string().min(1).optional(),
  admin: z
    .strictObject({
      user: z.string().trim().min(1),
      password: z.string().min(1),
      method: z.enum(['separator', 'authzid']).default('separator'),
    })
    .optional(),
  localUser: z
    .string()
    .trim()
    .min(1)
    .regex(/^[^*]+$/, 'must not contain "*"'),
  options: syncOptions.omit({ testLogin: true }).prefault({}),
  testLogin: z.boolean().default(false),
});
export type AdhocForm = z.output<typeof adhocForm>;

/** The message when a form gives both or neither of a password and an admin login. */
export const ONE_LOGIN = 'give either the user password or an admin login';

/** The ad-hoc task of a form: passwords sealed for its host, port and user, nothing else changed. */
export async function sealAdhocTask(box: SecretBox, f: AdhocForm): Promise<AdhocTask> {
  const login = f.admin
    ? {
        admin: {
          user: f.admin.user,
          password: await box.seal(f.admin.password, sealPurpose(f, 'admin.password')),
          method: f.admin.method,
          separator: '*',
        },
      }
    : { password: await box.seal(f.password!, sealPurpose(f, 'password')) };
  return {
    localUser: f.localUser,
    remote: {
      host: f.host,
      ...(f.port ? { port: f.port } : {}),
      security: f.security,
      verifyCertificate: f.verifyCertificate,
      username: f.username,
      ...login,
    },
    options: { ...f.options, testLogin: false },
  } as AdhocTask;
}
