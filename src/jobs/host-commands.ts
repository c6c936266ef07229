/**
 * The programs a scheduled job runs on this host (queue-monitor's postqueue, freshclam,
 * spam-expunge's doveadm), found as spawn() would find them: a path as is, a bare name in PATH.
 * A job whose program is missing is off at start-up (its global schedule is not kept): one info
 * line says so and which setting turns it on, instead of a failure every few seconds.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import type { AnyJob } from './types.js';

/** A program a job needs, the config setting that names it, and what provides it. */
export interface HostCommand {
  command: string;
  setting: string;
  /** Where it comes from, e.g. `Postfix` or `the clamav-freshclam package`. */
  providedBy: string;
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** True when `command` runs here: a path that is executable, or a name found in `PATH`. */
export function commandFound(command: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (command.includes('/')) return executable(command);
  return (env.PATH ?? '')
    .split(path.delimiter)
    .some((dir) => dir !== '' && executable(path.join(dir, command)));
}

/** A job that is off on this host, and the one line that says why and how to turn it on. */
export interface JobOff {
  job: string;
  missing: HostCommand;
  message: string;
}

/** The jobs of `jobs` whose programs this host lacks (a schedule the config turns off is not news). */
export function jobsOffOnThisHost(jobs: readonly AnyJob[], config: Config, env = process.env): JobOff[] {
  return jobs.flatMap((def) => {
    const own = config.schedules[def.name];
    if (own && 'enabled' in own) return [];
    const missing = def.hostCommands?.(config).find((c) => !commandFound(c.command, env));
    if (!missing) return [];
    const where = missing.command.includes('/') ? '' : ' in PATH';
    return [
      {
        job: def.name,
        missing,
        message:
          `${def.name} is off on this host: "${missing.command}" not found${where} (${missing.setting}); ` +
          `to turn it on, install ${missing.providedBy} or set ${missing.setting}, then restart or send SIGHUP`,
      },
    ];
  });
}
