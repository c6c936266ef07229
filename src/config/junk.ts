/**
 * Config sections of the Junk jobs: `spamExpunge` (retention of the Junk folders) and
 * `bayesLearn` (training Bayes from Junk moves). Kept apart from schema.ts so that file only
 * names them; every default is filled in here.
 */
import { z } from 'zod';
import {
  DEFAULT_MAX_MESSAGE_KILOBYTES,
  DEFAULT_SPOOL_DIR,
  DEFAULT_TRAINERS_GROUP,
  MAX_MESSAGE_KILOBYTES_LIMIT,
} from './junk-defaults.js';

/** Days a message stays in Junk, or `infinite` to keep everything. */
export const retentionSchema = z.union([z.number().int().min(1).max(36_500), z.literal('infinite')]);
export type Retention = z.output<typeof retentionSchema>;

/** A Dovecot user name as it goes into `user*vmail`: no `*`, no white space or control characters. */
export const userName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[^*\s\p{Cc}]+$/u, 'a user name without "*", spaces or control characters');

export const spamExpungeSchema = z
  .strictObject({
    /** Global retention by INTERNALDATE (the date the message was saved), in days. */
    retentionDays: retentionSchema.default(15),
    /** Per-user overrides, e.g. `{ alice: 30, bob: infinite }`. */
    perUser: z.record(userName, retentionSchema).default({}),
    /** Junk is the user's `\Junk` special-use folder unless a path is named here (e.g. `INBOX.Spam`). */
    junkFolder: z.string().min(1).optional(),
    /** Whose Junk to clean: every user the `doveadm` command lists, or exactly this list. */
    users: z.union([z.literal('doveadm'), z.array(userName).min(1)]).default('doveadm'),
    /** The command (argv, no shell) printing one user name per line. */
    doveadm: z.array(z.string().min(1)).min(1).default(['doveadm', 'user', '-u', '*']),
    /** Users cleaned at the same time (one IMAP session each). */
    concurrency: z.number().int().min(1).max(100).default(8),
    /** UIDs per `UID STORE`/`UID EXPUNGE` command. */
    batchSize: z.number().int().min(1).max(5000).default(500),
  })
  .prefault({});

export const bayesLearnSchema = z
  .strictObject({
    /** Where Junk moves wait to be queued; contrib/dovecot/sieve-pipe/learn's SPOOL must be the same. */
    spoolDir: z.string().min(1).default(DEFAULT_SPOOL_DIR),
    /** Besides watching the spool, workers scan it this often (and Redis back after an outage). */
    spoolScanSeconds: z.number().int().min(1).max(3600).default(60),
    /** Larger messages are not learned (logged): Bayes needs text, and queued messages sit in Redis. */
    maxMessageKilobytes: z
      .number()
      .int()
      .min(1)
      .max(MAX_MESSAGE_KILOBYTES_LIMIT)
      .default(DEFAULT_MAX_MESSAGE_KILOBYTES),
    /**
     * Who may train: the members of a system group (`getent group`) when that group exists,
     * everyone when it does not; or exactly a list of users.
     */
    trainers: z
      .union([z.strictObject({ group: z.string().min(1) }), z.array(userName)])
      .default({ group: DEFAULT_TRAINERS_GROUP }),
    /** How long "this message was learned as spam/ham" is remembered (dedup of repeated moves). */
    learnedRetentionDays: z.number().int().min(1).default(365),
    /** Rspamd's Bayes `min_learns`: learned spam and ham each needed before Bayes is used. */
    minLearns: z.number().int().min(1).default(200),
    /** A file where `mailjobs-learn` appends its problems (besides stderr). */
    logFile: z.string().min(1).optional(),
  })
  .prefault({});

export type SpamExpungeConfig = z.output<typeof spamExpungeSchema>;
export type BayesLearnConfig = z.output<typeof bayesLearnSchema>;
