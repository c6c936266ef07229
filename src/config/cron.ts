/**
 * Cron expressions in the config, checked when it loads. A module of its own so every section
 * that takes one (schedules, sync tasks) imports it from here, and none imports schema.ts.
 */
import { createRequire } from 'node:module';
import type { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';

/** cron-parser (and luxon under it) load only for a config that has a cron expression. */
const loadCronParser = () =>
  (createRequire(import.meta.url)('cron-parser') as { CronExpressionParser: typeof CronExpressionParser })
    .CronExpressionParser;

/** A cron expression checked by cron-parser, so a typo stops start-up with the field named. */
export const cronExpression = z.string().superRefine((expr, ctx) => {
  try {
    loadCronParser().parse(expr);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `invalid cron expression "${expr}": ${(err as Error).message}` });
  }
});

/** `{ cron, tz }`: a schedule by cron expression, in `tz` (default: the server's zone). */
export const cronSchedule = z.strictObject({ cron: cronExpression, tz: z.string().optional() });
