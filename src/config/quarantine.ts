/**
 * Config section `quarantine`: reject-level spam kept in one mailbox instead of being refused
 * (the Rspamd/Postfix side is in contrib/), indexed, notified to the postmaster, released or
 * deleted by an admin, expunged after `retentionDays` (see src/jobs/quarantine/).
 */
import { z } from 'zod';
import { userName } from './junk.js';
import { cronExpression } from './cron.js';

/** The section's schema; every default filled in. */
export const quarantineSchema = z
  .strictObject({
    /** Off: the job does nothing (spam is rejected as before; contrib/ decides that). */
    enabled: z.boolean().default(false),
    /** The Dovecot user whose INBOX is the quarantine; read as `<mailbox>*<masterUser>`. */
    mailbox: userName.default('quarantine'),
    /** `each`: one mail per quarantined message; `digest`: one list at `digestCron`; `off`. */
    notify: z.enum(['each', 'digest', 'off']).default('each'),
    /** Who gets the notifications; a bare local part is completed by Postfix (`@$myorigin`). */
    notifyTo: z
      .string()
      .regex(/^[^\p{Cc}<>\s]+$/u, 'must be one address, without spaces or angle brackets')
      .default('postmaster'),
    /** When the digest goes (with `notify: digest`); checked at every run of the job. */
    digestCron: cronExpression.default('0 8 * * *'),
    /** Messages saved in the quarantine longer ago than this are expunged. */
    retentionDays: z.number().int().min(1).max(36_500).default(30),
    /** A digest to each recipient of their own quarantined mail: not built yet. */
    recipientDigest: z
      .boolean()
      .default(false)
      .refine((v) => !v, 'not supported yet: set it to false (only the postmaster is notified)'),
  })
  .prefault({});

export type QuarantineConfig = z.output<typeof quarantineSchema>;
