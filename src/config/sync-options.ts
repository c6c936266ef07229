/**
 * The options of an imapsync task, shared by configured tasks (`sync:` in the config) and ad-hoc
 * tasks in a job payload. Pure zod, no I/O: the payload contract loads this file too.
 */
import { z } from 'zod';
import { backtrackingRisk } from './regex-cost.js';

/**
 * A regular expression given as a string, compiled once here so a typo names its field, and
 * refused when matching it against a server's folder names could stall the worker.
 */
export const regexString = z
  .string()
  .min(1)
  .superRefine((source, ctx) => {
    try {
      new RegExp(source, 'u');
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `invalid regular expression: ${(err as Error).message}` });
      return;
    }
    const risk = backtrackingRisk(source);
    if (risk) ctx.addIssue({ code: 'custom', message: `pattern refused: ${risk}` });
  });

/** `"Imported/Old account"`: '/' separates levels whatever the destination's separator is. */
const subfolderPath = () =>
  z
    .string()
    .min(1)
    .max(200)
    .refine((s) => !/[*%\r\n\0]/.test(s), 'must not contain *, %, control characters')
    .refine(
      (s) => s.split('/').every((part) => part.trim() !== ''),
      'no empty level (leading, trailing or double "/")',
    );
const subfolder = subfolderPath();

/** A task's options, with their defaults. */
export const syncOptions = z.strictObject({
  /** Source folders to leave out (regular expressions on the source path, e.g. `^Archive/20(0|1)`). */
  exclude: z.array(regexString).default([]),
  /** When given, only source folders matching one of these are synchronised. */
  include: z.array(regexString).optional(),
  /** Also synchronise the "other users" and "shared" namespaces (RFC 2342); off by default. */
  otherNamespaces: z.boolean().default(false),
  /** Synchronise the Trash folder. */
  trash: z.boolean().default(true),
  /** Only messages whose INTERNALDATE is at most this many days old. */
  maxAgeDays: z.number().int().min(1).optional(),
  /** Delete destination messages that are not on the source (imapsync --delete2). */
  deleteOnDestination: z.boolean().default(false),
  /**
   * Delete source messages once their copy is verified in the destination (imapsync --delete1);
   * `{ olderThanDays }`: only those older than that (INTERNALDATE).
   */
  deleteOnSource: z
    .union([z.boolean(), z.strictObject({ olderThanDays: z.number().int().min(1) })])
    .default(false),
  /**
   * Per folder and run, deletions (either side) beyond `percent` of the folder or beyond
   * `messages` stop the run before deleting anything in that folder; a dry run lists them.
   */
  deleteLimit: z
    .strictObject({
      percent: z.number().min(0).max(100).default(10),
      messages: z.number().int().min(0).default(500),
    })
    .prefault({}),
  /** Map special-use folders (attributes, or well-known names such as Entwürfe) to the local ones. */
  automap: z.boolean().default(true),
  /**
   * Renames, after automap: `names` maps a source folder (levels joined by '/') to a destination
   * folder; then each `rewrite` (first match) rewrites the destination path (`$1` for groups).
   */
  folderMap: z
    .strictObject({
      names: z.record(z.string().min(1), subfolderPath()).default({}),
      rewrite: z.array(z.strictObject({ match: regexString, replace: z.string() })).default([]),
    })
    .prefault({}),
  /**
   * A message in several source folders (Gmail labels, `[Gmail]/All Mail`) is copied once: into
   * the first folder that has it, All Mail last; `[Gmail]/Important` and `[Gmail]/Starred` are
   * skipped. `auto`: when the source has `[Gmail]/` folders.
   */
  crossFolderDedupe: z.union([z.boolean(), z.literal('auto')]).default('auto'),
  /** Put the whole source hierarchy under this destination folder; INBOX becomes the folder itself. */
  subfolder: subfolder.optional(),
  /** Report what would be created, copied, updated and deleted; change nothing. */
  dryRun: z.boolean().default(false),
  /** Create the folders only, copy no message. */
  justFolders: z.boolean().default(false),
  /** Log in on both sides and stop: the "Test" button. */
  testLogin: z.boolean().default(false),
});

/** Resolved task options. */
export type SyncOptions = z.output<typeof syncOptions>;
