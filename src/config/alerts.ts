/**
 * Config section `alerts`: mail to the postmaster when a condition starts and when it clears
 * (see src/jobs/alerts/). Every rule has a default and can be switched off with `false`.
 * Thresholds of the signature rule live in `freshclam.alert`, shared with `mailjobs status`.
 */
import { z } from 'zod';
import { isSmtpMailbox } from '../mail/smtp-address.js';

/** A threshold that can be switched off with `false`. */
const threshold = (min: number) => z.union([z.literal(false), z.number().int().min(min)]);

export const alertRulesSchema = z
  .strictObject({
    /** A connector whose last N runs failed. */
    connectorFailures: threshold(1).default(3),
    /** A connector failing since its last success, this many hours ago or more. */
    connectorNoSuccessHours: threshold(1).default(24),
    /** A connector holding messages (`getmail.holdAfterFailures`). */
    heldMessages: z.boolean().default(true),
    /** A migration (imapsync task) whose last run failed. */
    syncFailed: z.boolean().default(true),
    /** Antivirus signatures older than `freshclam.alert.maxAgeHours`, not loaded, or updates failing. */
    signatures: z.boolean().default(true),
    /** The newest finished Bayes learn failed. */
    bayesLearnFailing: z.boolean().default(true),
    /** More than this many messages in the Postfix queue (queue-monitor's latest sample). */
    postfixQueueMax: threshold(0).default(1000),
    /** The Postfix queue grew over this many minutes and never got back to where it was. */
    postfixQueueGrowingMinutes: threshold(1).default(30),
    /** More than this many failed jobs kept in one queue. */
    failedJobsMax: threshold(0).default(50),
    /** A queue with no worker listening. */
    noWorker: z.boolean().default(true),
  })
  .prefault({});

export const alertsSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Who gets the alerts; a bare local part is completed by Postfix (`@$myorigin`). */
    to: z
      .string()
      .regex(/^[^\p{Cc}<>\s]+$/u, 'must be one address, without spaces or angle brackets')
      .default('postmaster'),
    /** The sender (envelope and From:). Default `mailjobs@<this host's name>`. */
    from: z.string().refine(isSmtpMailbox, 'must be an address such as mailjobs@mail.example.org').optional(),
    /** `smtp`: to `smtp.host:smtp.port` (Postfix's smtpd); `sendmail`: Postfix's sendmail program. */
    via: z.enum(['smtp', 'sendmail']).default('smtp'),
    smtp: z
      .strictObject({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(1).max(65535).default(25),
        timeoutSeconds: z.number().min(1).default(30),
      })
      .prefault({}),
    /** Default: `sendmail` in `postfix.commandDirectory`. */
    sendmailPath: z.string().min(1).optional(),
    /** At most one mail per this many minutes; changes meanwhile wait for the next one. */
    minIntervalMinutes: z.number().min(0).default(15),
    /** Also tell a connector's local user when their external account fails. */
    notifyUsers: z.boolean().default(false),
    rules: alertRulesSchema,
  })
  .prefault({});

export type AlertsConfig = z.output<typeof alertsSchema>;
export type AlertRules = z.output<typeof alertRulesSchema>;
