/**
 * What the config asks to run on a schedule: each job's global schedule (overridable in
 * `schedules:`) and its per-target schedules, with a stable offset per target so hundreds
 * of accounts on the same interval do not all fire in the same second.
 */
import { createHash } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../core/errors.js';
import type { AnyJob, DesiredSchedule } from '../jobs/types.js';

/** Scheduler ids we manage start with this, so schedulers made by others are left alone. */
export const MANAGED_PREFIX = 'config:';

/**
 * A stable offset within `periodMs` for `target`, on a one-second grid: the same target always
 * gets the same slot. Never 0, since BullMQ reads offset 0 as "derive one from the clock",
 * which would make every restart look like a changed schedule.
 */
export function stableOffset(target: string, periodMs: number): number {
  const n = createHash('sha256').update(target).digest().readUInt32BE(0);
  return Math.floor((n / 0x1_0000_0000) * Math.max(1, periodMs / 1000)) * 1000 + 1;
}

/** Desired schedules of every job, by job name. Unknown names in `schedules:` are a config error. */
export function desiredSchedules(jobs: readonly AnyJob[], config: Config): Map<string, DesiredSchedule[]> {
  const known = new Set(jobs.map((j) => j.name));
  for (const name of Object.keys(config.schedules)) {
    if (!known.has(name)) {
      throw new ConfigError(
        `schedules.${name}: unknown job; known jobs: ${[...known].join(', ') || '(none)'}`,
      );
    }
  }
  const out = new Map<string, DesiredSchedule[]>();
  for (const def of jobs) {
    const list: DesiredSchedule[] = [];
    const global = config.schedules[def.name] ?? def.defaultSchedule?.schedule;
    if (global && def.defaultSchedule && !('enabled' in global)) {
      const base = { id: `${MANAGED_PREFIX}${def.name}`, payload: def.defaultSchedule.payload };
      const everyMs = 'everySeconds' in global ? global.everySeconds * 1000 : 0;
      list.push(
        'cron' in global
          ? { ...base, pattern: global.cron, tz: global.tz }
          : { ...base, everyMs, offsetMs: stableOffset(base.id, everyMs) },
      );
    } else if (global && !def.defaultSchedule) {
      throw new ConfigError(
        `schedules.${def.name}: this job has no global schedule (it runs per target or on demand)`,
      );
    }
    for (const s of def.schedules?.(config) ?? []) {
      const everyMs = s.everyMs;
      list.push({
        ...s,
        id: `${MANAGED_PREFIX}${s.id}`,
        ...(everyMs ? { offsetMs: stableOffset(s.id, everyMs) } : {}),
      });
    }
    out.set(def.name, list);
  }
  return out;
}
