/**
 * Connectors: every getmail account of the config with its last run (the getmail job's status
 * rows, from the run record), its next run (its BullMQ job scheduler), its current job, and whether the
 * schedules in Redis match the config. "Fetch now" and "Fetch all" go through enqueueFor, so
 * a busy account answers "already queued" or "already running" as everywhere else. Messages
 * held after failing run after run are listed with their reason; an admin can retry one or
 * have it delivered anyway (unscanned, null sender), and a fetch is queued for it. An account
 * that logs in with OAuth2 shows its grant, and admins can sign it in (pages/oauth.ts). The
 * Push column: watching since when and the last new-mail event, or why the account is not
 * watched (see push/state.ts).
 */
import { z } from 'zod';
import type { PushView } from '../../jobs/getmail/push/state.js';
import { SeenUidStore, type HeldMessage } from '../../jobs/getmail/state.js';
import { findJob } from '../../jobs/registry.js';
import type { Runtime } from '../../runtime.js';
import type { RunRecord } from '../../worker/run-record.js';
import { MANAGED_PREFIX, desiredSchedules } from '../../scheduler/desired.js';
import { sameSchedule } from '../../scheduler/reconcile.js';
import { html } from '../html.js';
import { adminAttrs } from '../layout.js';
import { HttpError, type ApiRoute, type PageModule } from '../types.js';
import { currentJob, enqueueFor, jobView, queueOf } from './jobs.js';
import { oauthLoginRoute, oauthOf } from './oauth.js';

const JOB = 'getmail';

/** When the connector's last run ended, success or failure. */
function lastFinished(run: RunRecord | undefined): number | undefined {
  const ends = [run?.lastSuccessAt, run?.lastFailureAt].filter((t) => t !== undefined);
  return ends.length > 0 ? Math.max(...ends) : undefined;
}

export async function connectorRows(rt: Runtime) {
  const def = findJob(rt.jobs, JOB);
  const queue = queueOf(rt, JOB);
  const [statusRows, schedulers] = await Promise.all([def.status?.(rt) ?? [], queue.getJobSchedulers(0, -1)]);
  const desired = desiredSchedules(rt.jobs, rt.config).get(JOB) ?? [];
  const byKey = new Map(schedulers.map((s) => [s.key, s]));
  const rows = await Promise.all(
    rt.config.connectors.map(async (c) => {
      const status = statusRows.find((r) => r.target === c.id);
      const want = desired.find((d) => (d.payload as { account?: string }).account === c.id);
      const have = want ? byKey.get(want.id) : undefined;
      const stray = !want ? schedulers.find((s) => s.key.endsWith(`:${JOB}:${c.id}`)) : undefined;
      const inconsistent: string[] = [];
      if (want && !have)
        inconsistent.push('no schedule in Redis: is the scheduler (mailjobs start) running?');
      if (want && have && !sameSchedule(have, want))
        inconsistent.push('the schedule in Redis differs from the config: reload mailjobs (SIGHUP)');
      if (stray) inconsistent.push('disabled, but still scheduled in Redis: reload mailjobs (SIGHUP)');
      const details = status?.details ?? {};
      const run = status?.run;
      return {
        id: c.id,
        protocol: c.protocol,
        host: c.host,
        deliverTo: c.deliverTo,
        enabled: c.enabled,
        intervalMinutes: c.intervalMinutes,
        summary: status?.summary ?? '',
        severity: status?.severity ?? 'ok',
        lastRunAt: lastFinished(run),
        lastSuccessAt: run?.lastSuccessAt,
        lastError: run?.lastError,
        lastResult: run?.lastCounts,
        consecutiveFailures: run?.consecutiveFailures ?? 0,
        held: (details.held ?? []) as HeldMessage[],
        push: details.push as PushView | undefined,
        nextRunAt: (have ?? stray)?.next,
        inconsistent,
        current: await currentJob(rt, JOB, c.id),
      };
    }),
  );
  const known = new Set(desired.map((d) => d.id));
  const orphans = schedulers
    .filter((s) => s.key.startsWith(MANAGED_PREFIX) && !known.has(s.key))
    .filter((s) => !rows.some((r) => s.key.endsWith(`:${JOB}:${r.id}`)))
    .map((s) => s.key);
  return { connectors: rows, orphanSchedules: orphans };
}

/** Refuses an account that is not an enabled connector of the config. */
function checkFetchable(rt: Runtime, account: string): void {
  const connector = rt.config.connectors.find((c) => c.id === account);
  if (!connector) throw new HttpError(404, `no connector "${account}" in the config`);
  if (!connector.enabled) throw new HttpError(409, `connector "${account}" is disabled in the config`);
}

async function fetchNow(rt: Runtime, account: string) {
  checkFetchable(rt, account);
  const outcome = await enqueueFor(rt, JOB, { account });
  rt.log.info({ account, outcome: outcome.status, jobId: outcome.jobId }, 'dashboard: fetch now');
  const holder = outcome.status === 'running' ? outcome.holder : undefined;
  return { account, status: outcome.status, jobId: outcome.jobId, ...(holder ? { holder } : {}) };
}

/** An admin's word on a held message (see `SeenUidStore.release`), then a fetch for its account. */
async function releaseHeld(
  rt: Runtime,
  input: { account: string; key: string },
  how: 'retry' | 'deliver-anyway',
) {
  const { account, key } = input;
  checkFetchable(rt, account);
  const store = new SeenUidStore(rt.redis, rt.key, account, rt.config.getmail.stateRetentionDays * 86_400);
  if (!(await store.release(key, how))) throw new HttpError(404, `no held message "${key}" for "${account}"`);
  rt.log.info({ account, key, how }, 'dashboard: held message released');
  return { ...(await fetchNow(rt, account)), key, how };
}

const heldInput = z.strictObject({ account: z.string().min(1), key: z.string().min(1) });

const routes: ApiRoute[] = [
  {
    method: 'GET',
    path: '/connectors',
    role: 'viewer',
    async handle(req, deps) {
      const data = await connectorRows(deps.rt);
      const withOAuth = data.connectors.map(async (c) => ({
        ...c,
        oauth: await oauthOf(deps, 'connector', c.id, req.user),
      }));
      return { ...data, connectors: await Promise.all(withOAuth) };
    },
  },
  oauthLoginRoute('connector', '/connectors/:id/oauth-login'),
  {
    method: 'GET',
    path: '/connectors/jobs/:jobId',
    role: 'viewer',
    handle: (req, { rt }) => jobView(rt, JOB, req.params.jobId!),
  },
  {
    method: 'POST',
    path: '/connectors/fetch',
    role: 'admin',
    input: z.strictObject({ account: z.string().min(1) }),
    handle: (req, { rt }) => fetchNow(rt, (req.input as { account: string }).account),
  },
  {
    method: 'POST',
    path: '/connectors/held/retry',
    role: 'admin',
    input: heldInput,
    handle: (req, { rt }) => releaseHeld(rt, req.input as z.infer<typeof heldInput>, 'retry'),
  },
  {
    method: 'POST',
    path: '/connectors/held/deliver-anyway',
    role: 'admin',
    input: heldInput,
    handle: (req, { rt }) => releaseHeld(rt, req.input as z.infer<typeof heldInput>, 'deliver-anyway'),
  },
  {
    method: 'POST',
    path: '/connectors/fetch-all',
    role: 'admin',
    async handle(_req, { rt }) {
      const enabled = rt.config.connectors.filter((c) => c.enabled);
      return { outcomes: await Promise.all(enabled.map((c) => fetchNow(rt, c.id))) };
    },
  },
];

export const connectorsPage: PageModule = {
  path: '/connectors',
  title: 'Connectors',
  scripts: ['connectors.js'],
  routes,
  async render({ rt }, user) {
    const admin = user.role === 'admin';
    return html`<section class="page connectors">
      <div class="page-head">
        <h1>Connectors</h1>
        <button type="button" id="fetch-all" ${adminAttrs(admin)}>Fetch all</button>
        <span class="notice" id="notice" role="status"></span>
      </div>
      <p class="hint">
        ${rt.config.connectors.length} POP3/IMAP accounts fetched into local mailboxes. Updates every few
        seconds.
      </p>
      <table class="grid" id="connectors">
        <thead>
          <tr>
            <th>Account</th>
            <th>Protocol</th>
            <th>Host</th>
            <th>Local user</th>
            <th>Enabled</th>
            <th>Last run</th>
            <th>Counts</th>
            <th>Next run</th>
            <th>Push</th>
            <th>Failures</th>
            <th>Now</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          <tr>
            <td colspan="12" class="muted">Loading…</td>
          </tr>
        </tbody>
      </table>
      <p class="warning" id="orphans" hidden></p>
    </section>`;
  },
};
