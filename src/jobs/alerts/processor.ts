/**
 * One run of the alerts: take a snapshot, evaluate the rules, advance the state, and send the
 * mail that is due (at most one to the postmaster, plus one per connector owner with
 * `notifyUsers`). Each start and end is one log line whether or not mail can be sent; a mail
 * that fails stays due for the next run, and `status` shows why it failed.
 */
import type { JobContext } from '../types.js';
import { postmasterMail, userMail } from './message.js';
import { evaluateRules } from './rules.js';
import { alertHost, describeRoute, alertRoute, sendAlertMail } from './send.js';
import {
  afterMail,
  readAlertState,
  stepAlerts,
  writeAlertState,
  type ActiveAlert,
  type AlertStep,
  type ClearedAlert,
} from './state.js';
import { takeSnapshot } from './snapshot.js';
import type { AlertsPayload } from './schema.js';

export interface AlertsResult {
  [k: string]: unknown;
  active: number;
  started: number;
  cleared: number;
  mailed: boolean;
  mailError?: string;
}

/** Each connector owner's started and cleared problems. */
function byUser(
  mail: NonNullable<AlertStep['mail']>,
): Map<string, { started: ActiveAlert[]; cleared: ClearedAlert[] }> {
  const out = new Map<string, { started: ActiveAlert[]; cleared: ClearedAlert[] }>();
  const entry = (u: string) => out.get(u) ?? (out.set(u, { started: [], cleared: [] }), out.get(u)!);
  for (const a of mail.started) if (a.user) entry(a.user).started.push(a);
  for (const a of mail.cleared) if (a.user) entry(a.user).cleared.push(a);
  return out;
}

export async function runAlerts(_payload: AlertsPayload, ctx: JobContext): Promise<AlertsResult> {
  const cfg = ctx.config.alerts;
  const now = Date.now();
  // Switched off: nothing is evaluated and nothing mailed, not even "cleared".
  if (!cfg.enabled) return { active: 0, started: 0, cleared: 0, mailed: false };
  const conditions = evaluateRules(await takeSnapshot(ctx, cfg.rules, now), cfg.rules);
  const step = stepAlerts(
    await readAlertState(ctx.redis, ctx.key),
    conditions,
    now,
    cfg.minIntervalMinutes * 60_000,
  );
  for (const a of step.started) ctx.log.warn({ alert: a.id }, `alert started: ${a.text}`);
  for (const a of step.ended) ctx.log.info({ alert: a.id }, `alert cleared: ${a.text}`);
  let state = step.state;
  let mailError: string | undefined;
  if (step.mail) {
    const host = alertHost();
    try {
      await sendAlertMail(ctx.config, postmasterMail(host, step.mail));
      state = afterMail(state, now);
      ctx.log.info(
        { to: cfg.to, started: step.mail.started.length, cleared: step.mail.cleared.length },
        'alert mail sent',
      );
    } catch (err) {
      mailError = `${describeRoute(alertRoute(ctx.config))}: ${(err as Error).message}`;
      ctx.log.warn({ to: cfg.to, err: mailError }, 'alert mail not sent; it stays due for the next run');
    }
    if (!mailError && cfg.notifyUsers) {
      for (const [user, news] of byUser(step.mail)) {
        // The postmaster has been told: a user's mail that fails is logged, not retried.
        await sendAlertMail(ctx.config, userMail(host, news.started, news.cleared), user).catch(
          (err: unknown) =>
            ctx.log.warn({ user, err: (err as Error).message }, 'alert mail to the connector owner not sent'),
        );
      }
    }
  }
  state = { ...state, ...(mailError ? { mailError: { at: now, reason: mailError } } : {}) };
  await writeAlertState(ctx.redis, ctx.key, state);
  return {
    active: state.active.length,
    started: step.started.length,
    cleared: step.ended.length,
    mailed: step.mail !== undefined && !mailError,
    ...(mailError ? { mailError } : {}),
  };
}
