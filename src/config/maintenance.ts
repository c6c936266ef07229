/**
 * Config sections of the maintenance jobs: `freshclam` (antivirus signature updates) and
 * `queueMonitor` (Postfix queue samples), plus the `postfix` section they share with future
 * jobs. Kept apart from schema.ts so that file only names them; every default is filled in here.
 * Nothing here must exist at start-up: a missing freshclam.conf fails the job, not the config.
 */
import { z } from 'zod';

export const postfixSchema = z
  .strictObject({
    /** Postfix's config folder, passed as `-c` to postqueue and postsuper. */
    configDir: z.string().min(1).default('/etc/postfix'),
    /** Where postqueue and postsuper are installed (Postfix's `command_directory`). */
    commandDirectory: z.string().min(1).default('/usr/sbin'),
    /** Longest a postqueue/postsuper call may take (a listing of 100,000 messages takes seconds). */
    timeoutSeconds: z.number().min(1).default(120),
  })
  .prefault({});

export const freshclamSchema = z
  .strictObject({
    /** freshclam's own config (mirrors, private mirror, custom database URLs, NotifyClamd). */
    configFile: z.string().min(1).default('/etc/clamav/freshclam.conf'),
    /** The freshclam program (found on PATH unless absolute). */
    command: z.string().min(1).default('freshclam'),
    /** Longest a freshclam run may take before it is stopped. */
    timeoutSeconds: z.number().min(10).default(900),
    /**
     * After an update, how long to wait for clamd's VERSION to show the new database: a reload
     * of the full official database takes tens of seconds (scans go on meanwhile).
     */
    reloadTimeoutSeconds: z.number().min(1).default(180),
    alert: z
      .strictObject({
        /** Alert when the loaded signatures are older than this. */
        maxAgeHours: z.number().positive().default(24),
        /** Alert when this many updates in a row failed. */
        failuresInARow: z.number().int().min(1).default(3),
      })
      .prefault({}),
  })
  .prefault({});

export const queueMonitorSchema = z
  .strictObject({
    /** Samples kept at full resolution (one per sample interval). */
    fullResolutionMinutes: z
      .number()
      .int()
      .min(1)
      .max(24 * 60)
      .default(60),
    /** Older samples are averaged into buckets of this many minutes... */
    downsampleMinutes: z
      .number()
      .int()
      .min(1)
      .max(24 * 60)
      .default(5),
    /** ...kept this many days. */
    historyDays: z.number().int().min(1).max(366).default(7),
  })
  .prefault({});

export type PostfixConfig = z.output<typeof postfixSchema>;
export type FreshclamConfig = z.output<typeof freshclamSchema>;
export type QueueMonitorConfig = z.output<typeof queueMonitorSchema>;
