/**
 * Alerts: the problems that hold now (the alerts job's status rows), since when, whether the
 * postmaster has been mailed, and how the mail fares. Read-only: the same rows as `mailjobs
 * status`, so a problem shows here even when no mail can be sent.
 */
import { findJob } from '../../jobs/registry.js';
import type { StatusRow } from '../../jobs/types.js';
import type { Runtime } from '../../runtime.js';
import { html, type SafeHtml } from '../html.js';
import type { ApiRoute, DashboardDeps, PageModule } from '../types.js';

const JOB = 'alerts';

/** The alerts job's rows: each problem that holds now, then the `mail` row. */
export async function alertRows(rt: Runtime): Promise<{ problems: StatusRow[]; mail?: StatusRow }> {
  const rows = (await findJob(rt.jobs, JOB).status?.(rt)) ?? [];
  const mail = rows.find((r) => r.target === 'mail');
  return { problems: rows.filter((r) => r !== mail), ...(mail ? { mail } : {}) };
}

const routes: ApiRoute[] = [
  { method: 'GET', path: '/alerts', role: 'viewer', handle: (_req, { rt }) => alertRows(rt) },
];

async function render({ rt }: DashboardDeps): Promise<SafeHtml> {
  const { problems, mail } = await alertRows(rt);
  return html`<section class="page alerts">
    <div class="page-head"><h1>Alerts</h1></div>
    <table class="grid" id="alerts-active">
      <thead><tr><th>Problem</th><th>What and since when</th></tr></thead>
      <tbody>${problems.length === 0
        ? html`<tr><td colspan="2" class="muted">No problem now.</td></tr>`
        : problems.map((p) => html`<tr class="alert"><td><code>${p.target}</code></td><td>${p.summary}</td></tr>`)}</tbody>
    </table>
    <p id="alerts-mail" class="${mail && mail.severity !== 'ok' ? 'bad' : 'muted'}">${mail?.summary ?? ''}</p>
  </section>`; // prettier-ignore
}

export const alertsPage: PageModule = { path: '/alerts', title: 'Alerts', render, scripts: [], routes };
