/**
 * The Synchronization page: the configured imapsync tasks with their last result (the job's own
 * status rows) and live progress (the running job's progress), Start and Cancel; an ad-hoc
 * sync form whose passwords are sealed here, server-side, with the secrets key, so job data
 * holds ciphertext only and nothing sends them back; the report of a run once it ends. A task
 * whose remote side logs in with OAuth2 shows its grant, and admins can sign it in (pages/oauth.ts).
 */
import type { Job } from 'bullmq';
import { z } from 'zod';
import { SecretBox } from '../../core/crypto.js';
import { type AdhocForm, adhocForm, ONE_LOGIN, sealAdhocTask } from '../../jobs/imapsync/adhoc-form.js';
import { IMPORT_COLUMNS, importRequest } from '../../jobs/imapsync/import.js';
import { imapsyncJob } from '../../jobs/imapsync/index.js';
import { adhocTarget, type ImapsyncPayload, type imapsyncPayload } from '../../jobs/imapsync/schema.js';
import { MAIL_SECURITY_MODES, type MailSecurity } from '../../mail/tls.js';
import type { Runtime } from '../../runtime.js';
import { html, type SafeHtml } from '../html.js';
import { adminAttrs } from '../layout.js';
import { HttpError, type ApiRoute, type DashboardDeps, type PageModule, type SessionUser } from '../types.js';
import { cancelJob, currentJob, enqueueFor, jobView, queueOf } from './jobs.js';
import {
  type BulkAction,
  bulkAction,
  FLEET_FILTERS,
  type FleetFilter,
  importTasks,
  syncFleet,
} from './sync-fleet.js';
import { oauthLoginRoute, oauthOf } from './oauth.js';

const JOB = 'imapsync';
/** How many finished jobs to look through for each task's last report. */
const RECENT_JOBS = 200;

const runModes = z.strictObject({
  dryRun: z.boolean().optional(),
  justFolders: z.boolean().optional(),
  testLogin: z.boolean().optional(),
});

const boxes = new Map<string, SecretBox>();
/** The secrets key of the config, read once per file. */
export function secretBox(rt: Runtime): SecretBox {
  const file = rt.config.secrets.keyFile;
  let box = boxes.get(file);
  if (!box) boxes.set(file, (box = new SecretBox(file)));
  return box;
}

/** The payload of an ad-hoc form: passwords sealed for its host, port and user, nothing else changed. */
async function adhocPayload(rt: Runtime, f: AdhocForm): Promise<z.input<typeof imapsyncPayload>> {
  if ((f.password === undefined) === (f.admin === undefined)) {
    throw new HttpError(400, `password: ${ONE_LOGIN}`);
  }
  return { adhoc: await sealAdhocTask(secretBox(rt), f), ...(f.testLogin ? { testLogin: true } : {}) };
}

function targetOf(job: Job): string | undefined {
  const data = job.data as Partial<ImapsyncPayload>;
  if (typeof data.task === 'string') return data.task;
  return data.adhoc ? adhocTarget(data.adhoc) : undefined;
}

/** Recent ad-hoc runs: who into whom, never their credentials. */
function adhocSummary(job: Job, state: string) {
  const a = (job.data as ImapsyncPayload).adhoc!;
  return {
    jobId: job.id!,
    target: adhocTarget(a),
    localUser: a.localUser,
    remote: `${a.remote.username}@${a.remote.host}`,
    testLogin: (job.data as ImapsyncPayload).testLogin === true,
    state,
    progress: job.progress,
    outcome: (job.returnvalue as { outcome?: string } | null)?.outcome,
    failedReason: job.failedReason || undefined,
    finishedOn: job.finishedOn,
  };
}

/** Every configured task, its status row, its current job and last finished job. */
export async function syncOverview(rt: Runtime) {
  const queue = queueOf(rt, JOB);
  const [rows, recent] = await Promise.all([
    imapsyncJob.status!(rt),
    queue.getJobs(['active', 'waiting', 'delayed', 'completed', 'failed'], 0, RECENT_JOBS - 1),
  ]);
  const finished = recent.filter((j) => j.finishedOn).sort((a, b) => b.finishedOn! - a.finishedOn!);
  const tasks = await Promise.all(
    rt.config.sync.map(async (t) => {
      const row = rows.find((r) => r.target === t.id);
      return {
        id: t.id,
        remote: `${t.remote.login.username}@${t.remote.host}`,
        localUser: t.localUser,
        enabled: t.enabled,
        schedule: t.schedule ?? null,
        summary: row?.summary ?? '',
        severity: row?.severity ?? 'ok',
        run: row?.run ?? null,
        current: (await currentJob(rt, JOB, t.id)) ?? null,
        lastJobId: finished.find((j) => targetOf(j) === t.id)?.id ?? null,
      };
    }),
  );
  const adhocJobs = recent
    .filter((j) => (j.data as Partial<ImapsyncPayload>).adhoc)
    .sort((a, b) => b.timestamp - a.timestamp)
    .slice(0, 10);
  const adhoc = await Promise.all(adhocJobs.map(async (j) => adhocSummary(j, await j.getState())));
  return { tasks, adhoc };
}

const routes: ApiRoute[] = [
  {
    method: 'GET',
    path: '/sync/tasks',
    role: 'viewer',
    async handle(req, deps) {
      const data = await syncOverview(deps.rt);
      const withOAuth = data.tasks.map(async (t) => ({
        ...t,
        oauth: await oauthOf(deps, 'sync', t.id, req.user),
      }));
      return { ...data, tasks: await Promise.all(withOAuth) };
    },
  },
  oauthLoginRoute('sync', '/sync/tasks/:id/oauth-login'),
  {
    method: 'POST',
    path: '/sync/tasks/:id/start',
    role: 'admin',
    input: runModes,
    async handle(req, { rt }) {
      const id = req.params.id ?? '';
      if (!rt.config.sync.some((t) => t.id === id)) throw new HttpError(404, `no sync task "${id}"`);
      const modes = req.input as z.output<typeof runModes>;
      rt.log.info({ task: id, by: req.user.name, ...modes }, 'sync started from the dashboard');
      return enqueueFor(rt, JOB, { task: id, ...modes });
    },
  },
  {
    method: 'POST',
    path: '/sync/adhoc',
    role: 'admin',
    input: adhocForm,
    async handle(req, { rt }) {
      const payload = await adhocPayload(rt, req.input as AdhocForm);
      const outcome = await enqueueFor(rt, JOB, payload);
      rt.log.info(
        { target: outcome.target, by: req.user.name, testLogin: payload.testLogin === true },
        'ad-hoc sync queued from the dashboard',
      );
      return outcome;
    },
  },
  {
    method: 'GET',
    path: '/sync/fleet',
    role: 'viewer',
    input: z.strictObject({ filter: z.enum(FLEET_FILTERS).default('all') }),
    handle: (req, { rt }) => syncFleet(rt, (req.input as { filter: FleetFilter }).filter),
  },
  {
    // The file's text is read and dropped here: never stored, never logged (only the counts are).
    method: 'POST',
    path: '/sync/import',
    role: 'admin',
    input: importRequest,
    async handle(req, { rt }) {
      const { csv, create } = req.input as z.output<typeof importRequest>;
      const outcome = await importTasks(rt, csv, create);
      if (create)
        rt.log.info(
          {
            by: req.user.name,
            created: outcome.created,
            replaced: outcome.replaced,
            errors: outcome.errors.length,
          },
          'sync import from the dashboard',
        );
      return outcome;
    },
  },
  {
    method: 'POST',
    path: '/sync/bulk',
    role: 'admin',
    input: z.strictObject({
      action: z.enum(['start', 'cancel', 'retry-failed']),
      targets: z.array(z.string().min(1)).max(10_000).default([]),
    }),
    handle: async (req, { rt }) => {
      const { action, targets } = req.input as { action: BulkAction; targets: string[] };
      return { results: await bulkAction(rt, action, targets, req.user) };
    },
  },
  {
    method: 'GET',
    path: '/sync/jobs/:id',
    role: 'viewer',
    handle: (req, { rt }) => jobView(rt, JOB, req.params.id ?? ''),
  },
  {
    method: 'POST',
    path: '/sync/jobs/:id/cancel',
    role: 'admin',
    handle: (req, { rt }) => cancelJob(rt, JOB, req.params.id ?? '', req.user),
  },
];

function scheduleText(s: { cron: string } | { everyMinutes: number } | undefined): string {
  if (!s) return 'on demand';
  return 'cron' in s ? `cron ${s.cron}` : `every ${s.everyMinutes} min`;
}

function taskRow(t: Runtime['config']['sync'][number], admin: boolean): SafeHtml {
  const a = adminAttrs(admin);
  return html`<tr data-task="${t.id}" class="${t.enabled ? '' : 'disabled'}">
    <td>${t.id}${t.enabled ? '' : html` <small>(disabled)</small>`}</td>
    <td>
      ${t.remote.login.username}@${t.remote.host}
      ${t.remote.login.kind === 'oauth2' ? html`<div data-field="oauth" class="oauth"></div>` : ''}
    </td>
    <td>${t.localUser}</td>
    <td>${scheduleText(t.schedule)}</td>
    <td data-field="summary" class="detail">…</td>
    <td data-field="now">
      <progress max="1" value="0" hidden></progress> <span data-field="progress"></span>
    </td>
    <td class="actions">
      <button type="button" data-action="start" ${a}>Start</button>
      <button type="button" data-action="test" class="secondary" ${a}>Test login</button>
      <button type="button" data-action="cancel" class="danger" hidden ${a}>Cancel</button>
      <button type="button" data-action="report" class="secondary" hidden>Report</button>
    </td>
  </tr>`;
}

/** How the form names each security mode; a new mode fails to compile until it is named here. */
const SECURITY_LABELS: Record<MailSecurity, string> = {
  tls: 'TLS',
  starttls: 'STARTTLS',
  none: 'none (plain text)',
};

function adhocFormHtml(admin: boolean): SafeHtml {
  const a = adminAttrs(admin);
  return html`<form id="adhoc-form" class="stacked" autocomplete="off">
    <fieldset>
      <legend>Remote account</legend>
      <label>Host <input name="host" required /></label>
      <label>Port <input name="port" type="number" min="1" max="65535" placeholder="993 or 143" /></label>
      <label
        >Security
        <select name="security">
          ${MAIL_SECURITY_MODES.map((m) => html`<option value="${m}">${SECURITY_LABELS[m]}</option>`)}
        </select></label
      >
      <label class="check"
        ><input name="verifyCertificate" type="checkbox" checked /> verify the certificate</label
      >
      <label>User <input name="username" required /></label>
      <label class="check"><input name="useAdmin" type="checkbox" /> log in as an admin instead</label>
      <label data-login="user"
        >Password <input name="password" type="password" autocomplete="new-password"
      /></label>
      <label data-login="admin" hidden>Admin user <input name="adminUser" /></label>
      <label data-login="admin" hidden
        >Admin password <input name="adminPassword" type="password" autocomplete="new-password"
      /></label>
      <label data-login="admin" hidden
        >Method
        <select name="adminMethod">
          <option value="separator">user*admin (master user)</option>
          <option value="authzid">SASL PLAIN authzid</option>
        </select></label
      >
    </fieldset>
    <fieldset>
      <legend>Local mailbox and options</legend>
      <label>Local user <input name="localUser" required /></label>
      <label
        >Leave out folders (regular expressions, one a line) <textarea name="exclude" rows="2"></textarea>
      </label>
      <label>Only folders matching (one a line) <textarea name="include" rows="2"></textarea></label>
      <label>Under the local folder <input name="subfolder" placeholder="Old mail" /></label>
      <label>Only messages younger than (days) <input name="maxAgeDays" type="number" min="1" /></label>
      <label class="check"><input name="trash" type="checkbox" checked /> Trash too</label>
      <label class="check"
        ><input name="deleteOnDestination" type="checkbox" /> delete local messages that are not on the
        source</label
      >
      <label class="check"
        ><input name="deleteOnSource" type="checkbox" /> delete source messages once copied</label
      >
      <label class="check"><input name="dryRun" type="checkbox" /> dry run (change nothing)</label>
      <label class="check"><input name="justFolders" type="checkbox" /> folders only</label>
    </fieldset>
    <p>
      <button type="submit" value="sync" ${a}>Start sync</button>
      <button type="submit" value="test" class="secondary" ${a}>Test login</button>
      <span class="notice" id="adhoc-status" role="status"></span>
    </p>
    <p class="hint">
      Passwords are sealed with the secrets key on the server before the job is queued; they are never shown
      again.
    </p>
  </form>`;
}

/** Every task, configured or imported, with filters, totals and bulk actions (sync-fleet.js fills it). */
function fleetHtml(admin: boolean): SafeHtml {
  const a = adminAttrs(admin);
  return html`<section id="sync-fleet">
    <h2>All tasks</h2>
    <p>
      <label
        >Show
        <select name="filter">
          ${FLEET_FILTERS.map((f) => html`<option value="${f}">${f}</option>`)}
        </select></label
      >
      <button type="button" data-bulk="start" ${a}>Start all</button>
      <button type="button" data-bulk="retry-failed" class="secondary" ${a}>Retry failed</button>
      <button type="button" data-bulk="cancel" class="danger" ${a}>Cancel all</button>
    </p>
    <p data-field="totals" class="hint" role="status"></p>
    <table class="grid">
      <thead>
        <tr>
          <th>Remote</th>
          <th>Local user</th>
          <th>State</th>
          <th>Bytes</th>
          <th>Messages</th>
          <th>Rate</th>
          <th>ETA</th>
          <th>Last result</th>
        </tr>
      </thead>
      <tbody></tbody>
    </table>
  </section>`;
}

/** The CSV import: preview (errors by line), then Create. */
function importHtml(admin: boolean): SafeHtml {
  const a = adminAttrs(admin);
  return html`<form id="sync-import" class="stacked" autocomplete="off">
    <h2>Import tasks</h2>
    <p class="hint">
      A CSV file whose first line names the columns: ${IMPORT_COLUMNS.join(', ')}. Passwords are sealed at
      once; the file is not kept. Any bad line: nothing is created.
    </p>
    <label>File <input name="file" type="file" accept=".csv,text/csv" required /></label>
    <p>
      <button type="submit" data-action="preview" class="secondary" ${a}>Preview</button>
      <button type="submit" data-action="create" disabled ${a}>Create</button>
      <span class="notice" data-field="status" role="status"></span>
    </p>
    <ul data-field="preview"></ul>
  </form>`;
}

async function render({ rt }: DashboardDeps, user: SessionUser): Promise<SafeHtml> {
  const admin = user.role === 'admin';
  const tasks = rt.config.sync;
  return html`<section class="page sync">
    <div class="page-head">
      <h1>Synchronization</h1>
      <span class="notice" id="notice" role="status"></span>
    </div>
    <p class="hint">IMAP migrations into local mailboxes. Progress updates every few seconds.</p>
    <table class="grid" id="sync-tasks">
      <thead>
        <tr>
          <th>Task</th>
          <th>Remote</th>
          <th>Local user</th>
          <th>Schedule</th>
          <th>Last result</th>
          <th>Now</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        ${
          tasks.length === 0
            ? html`<tr>
                <td colspan="7" class="muted">No task is configured (<code>sync:</code> in the config).</td>
              </tr>`
            : tasks.map((t) => taskRow(t, admin))
        }
      </tbody>
    </table>
    ${fleetHtml(admin)} ${importHtml(admin)}
    <h2>Ad-hoc sync</h2>
    ${adhocFormHtml(admin)}
    <h2>Recent ad-hoc runs</h2>
    <table class="grid" id="sync-adhoc">
      <thead>
        <tr>
          <th>Remote</th>
          <th>Local user</th>
          <th>Kind</th>
          <th>State</th>
          <th>Now / outcome</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        <tr>
          <td colspan="6" class="muted">Loading…</td>
        </tr>
      </tbody>
    </table>
    <section id="sync-report" class="report" hidden>
      <h2>Report <span class="muted" data-field="title"></span></h2>
      <div data-field="body"></div>
    </section>
  </section>`;
}

export const syncPage: PageModule = {
  path: '/sync',
  title: 'Synchronization',
  render,
  scripts: ['sync.js', 'sync-fleet.js'],
  routes,
};
