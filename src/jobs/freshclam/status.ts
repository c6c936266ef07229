/**
 * The freshclam row of `mailjobs status` (and the dashboard): which signatures clamd runs and
 * how old they are (asked live with VERSION), the last success and error, and the alert rules:
 * signatures older than `freshclam.alert.maxAgeHours`, `failuresInARow` updates failed in a
 * row, or clamd not answering.
 */
import type { FreshclamConfig } from '../../config/maintenance.js';
import { ClamdClient, type ClamdVersion } from '../../mail/clamd.js';
import { RunRecordStore, type RunRecord } from '../../worker/run-record.js';
import { ago } from '../format.js';
import { runPhrase } from '../run-status.js';
import type { StatusContext, StatusRow } from '../types.js';
import { SIGNATURES_TARGET } from './schema.js';

/** Why an admin should look, empty when all is well. */
export function signatureAlerts(
  version: ClamdVersion | Error,
  runs: Pick<RunRecord, 'consecutiveFailures'>,
  alert: FreshclamConfig['alert'],
  now = Date.now(),
): string[] {
  const out: string[] = [];
  if (version instanceof Error) out.push(`clamd does not answer: ${version.message}`);
  else if (!version.dbDate) out.push('clamd reports no daily database: signature age unknown');
  else if (now - version.dbDate.getTime() > alert.maxAgeHours * 3_600_000) {
    out.push(
      `signatures are ${ago(version.dbDate.getTime(), now).replace(' ago', '')} old (limit ${alert.maxAgeHours} h)`,
    );
  }
  if (runs.consecutiveFailures >= alert.failuresInARow) {
    out.push(`the last ${runs.consecutiveFailures} updates failed`);
  }
  return out;
}

/**
 * Critical on any of {@link signatureAlerts} (freshclam's own rules, from its config); a
 * warning while updates fail fewer times than that.
 */
export async function freshclamStatus(ctx: StatusContext): Promise<StatusRow[]> {
  const clamd = new ClamdClient(ctx.config.clamd);
  const [version, run] = await Promise.all([
    clamd.version({ timeoutMs: 3000 }).catch((err: unknown) => err as Error),
    new RunRecordStore(ctx.redis, ctx.key).read('freshclam', SIGNATURES_TARGET),
  ]);
  const alerts = signatureAlerts(version, run ?? { consecutiveFailures: 0 }, ctx.config.freshclam.alert);
  const loaded =
    version instanceof Error
      ? 'clamd unreachable'
      : `daily ${version.dbVersion ?? '?'}${version.dbDate ? ` built ${ago(version.dbDate.getTime())}` : ''}`;
  const failing = run !== undefined && run.consecutiveFailures > 0;
  return [
    {
      target: SIGNATURES_TARGET,
      summary: `${loaded}; last update ${runPhrase(run)}${alerts.length ? ` — ALERT: ${alerts.join('; ')}` : ''}`,
      severity: alerts.length > 0 ? 'critical' : failing ? 'warning' : 'ok',
      ...(run ? { run } : {}),
      details: {
        ...(version instanceof Error
          ? { clamdError: version.message }
          : {
              engine: version.engine,
              dbVersion: version.dbVersion,
              dbDate: version.dbDate?.toISOString(),
              ageHours: version.dbDate ? (Date.now() - version.dbDate.getTime()) / 3_600_000 : undefined,
            }),
        alerts,
      },
    },
  ];
}
