/**
 * alerts: mail to the postmaster when a problem starts and when it clears. Every minute by
 * default (config `schedules.alerts` overrides). Rules: rules.ts; memory and rate limit:
 * state.ts; mail: message.ts, send.ts. `status` lists the problems that hold now.
 */
import { ago } from '../format.js';
import type { StatusContext, StatusRow } from '../types.js';
import { defineJob } from '../types.js';
import { runAlerts } from './processor.js';
import { alertsContract } from './schema.js';
import { readAlertState } from './state.js';

export { readActiveAlerts, type ActiveAlert } from './state.js';

/** One row per problem that holds now, then one about the mail. */
async function alertsStatus(ctx: StatusContext): Promise<StatusRow[]> {
  const state = await readAlertState(ctx.redis, ctx.key);
  const rows: StatusRow[] = [...state.active]
    .sort((a, b) => a.since - b.since)
    .map((a) => ({
      target: a.id,
      summary: `${a.text} (since ${ago(a.since)}${a.mailed ? ', mailed' : ', not mailed yet'})`,
      // A problem an admin is mailed about: critical for monitors too.
      severity: 'critical' as const,
      details: { ...a },
    }));
  const cfg = ctx.config.alerts;
  const pending = state.active.filter((a) => !a.mailed).length + state.cleared.length;
  const mail = !cfg.enabled
    ? 'alerts disabled (alerts.enabled: false)'
    : state.mailError
      ? `mail to ${cfg.to} fails (${ago(state.mailError.at)}): ${state.mailError.reason}`
      : `last mail to ${cfg.to} ${ago(state.lastMailAt)}${pending ? `; ${pending} change(s) wait for the next mail` : ''}`;
  rows.push({
    target: 'mail',
    summary: `${state.active.length === 0 ? 'no problem now; ' : ''}${mail}`,
    severity: state.mailError !== undefined ? 'warning' : 'ok',
    details: { lastMailAt: state.lastMailAt, mailError: state.mailError, pending },
  });
  return rows;
}

export const alertsJob = defineJob({
  ...alertsContract,
  concurrency: 1,
  process: runAlerts,
  defaultSchedule: { schedule: { everySeconds: 60 }, payload: {} },
  status: alertsStatus,
});
