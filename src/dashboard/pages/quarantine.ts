/**
 * The Quarantine page: the quarantined messages (the quarantine job's index), paged, searched
 * by sender, recipient or subject; one message's header block and Rspamd symbols, as text only
 * (the page never renders a message's HTML or body); Release (optionally learning it as ham)
 * and Delete for admins. Actions run at once through src/jobs/quarantine/release.ts, as the CLI.
 */
import { z } from 'zod';
import { PermanentJobError, ProtocolError } from '../../core/errors.js';
import { fetchHeaders, inQuarantine } from '../../jobs/quarantine/mailbox.js';
import { deleteMessage, releaseMessage } from '../../jobs/quarantine/release.js';
import { QUARANTINE_ID, type QuarantineItem, QuarantineStore } from '../../jobs/quarantine/store.js';
import type { Runtime } from '../../runtime.js';
import { html, type SafeHtml } from '../html.js';
import { adminAttrs } from '../layout.js';
import { HttpError, type ApiRoute, type DashboardDeps, type PageModule, type SessionUser } from '../types.js';

/** The header block shown is cut here: enough for any real message's headers. */
const MAX_HEADER_CHARS = 64 * 1024;

const listQuery = z.object({
  search: z.string().max(200).optional(),
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(200).default(25),
});

const releaseInput = z.strictObject({ learnHam: z.boolean().default(false) });

const store = (rt: Runtime) => new QuarantineStore(rt.redis, rt.key);

/** The id of a route, checked (404 for anything that cannot be one). */
function idParam(params: Record<string, string>): string {
  const id = params.id ?? '';
  if (!QUARANTINE_ID.test(id))
    throw new HttpError(404, `no quarantined message ${JSON.stringify(id.slice(0, 40))}`);
  return id;
}

/** A refusal of release or delete as the HTTP answer the page shows. */
function asHttp(err: unknown): never {
  if (err instanceof PermanentJobError && err.code === 'ENOTFOUND') throw new HttpError(404, err.message);
  if (err instanceof PermanentJobError && ['ENOTRELEASABLE', 'EREFUSED'].includes(err.code))
    throw new HttpError(409, err.message);
  if (err instanceof ProtocolError && err.code === 'EBUSY') throw new HttpError(409, err.message);
  throw err;
}

/** The message's header block from the quarantine mailbox, as text; '' when it is gone. */
async function headerBlock(rt: Runtime, item: QuarantineItem): Promise<string> {
  return inQuarantine(
    rt.config,
    undefined,
    async (s) => {
      if (s.uidValidity !== item.uidValidity) return '';
      const [m] = await fetchHeaders(s, [item.uid]);
      const text = m ? new TextDecoder('utf-8').decode(m.headers) : '';
      return text.length > MAX_HEADER_CHARS ? `${text.slice(0, MAX_HEADER_CHARS)}\n[… cut]` : text;
    },
    { readOnly: true },
  );
}

const routes: ApiRoute[] = [
  {
    method: 'GET',
    path: '/quarantine/messages',
    role: 'viewer',
    input: listQuery,
    async handle(req, { rt }) {
      const q = req.input as z.output<typeof listQuery>;
      const { total, items } = await store(rt).list({
        ...(q.search ? { search: q.search } : {}),
        offset: (q.page - 1) * q.pageSize,
        limit: q.pageSize,
      });
      return { total, page: q.page, pageSize: q.pageSize, enabled: rt.config.quarantine.enabled, items };
    },
  },
  {
    method: 'GET',
    path: '/quarantine/messages/:id',
    role: 'viewer',
    async handle(req, { rt }) {
      const id = idParam(req.params);
      const item = await store(rt).get(id);
      if (!item) throw new HttpError(404, `no quarantined message ${id}`);
      return { item, headers: await headerBlock(rt, item) };
    },
  },
  {
    method: 'POST',
    path: '/quarantine/messages/:id/release',
    role: 'admin',
    input: releaseInput,
    async handle(req, { rt }) {
      const id = idParam(req.params);
      const { learnHam } = req.input as z.output<typeof releaseInput>;
      return releaseMessage(id, { by: req.user.name, learnHam }, rt).catch(asHttp);
    },
  },
  {
    method: 'DELETE',
    path: '/quarantine/messages/:id',
    role: 'admin',
    async handle(req, { rt }) {
      const id = idParam(req.params);
      await deleteMessage(id, { by: req.user.name }, rt).catch(asHttp);
      return { id, deleted: true };
    },
  },
  {
    method: 'GET',
    path: '/quarantine/actions',
    role: 'viewer',
    handle: async (_req, { rt }) => store(rt).actions(20),
  },
];

async function render({ rt }: DashboardDeps, user: SessionUser): Promise<SafeHtml> {
  const cfg = rt.config.quarantine;
  const a = adminAttrs(user.role === 'admin');
  return html`<section class="page quarantine">
    <div class="page-head"><h1>Quarantine</h1></div>
    <p class="hint">
      ${cfg.enabled
        ? html`Mailbox <code>${cfg.mailbox}</code>; notifications: ${cfg.notify} to <code>${cfg.notifyTo}</code>;
            kept ${cfg.retentionDays} days.`
        : html`The quarantine is off (<code>quarantine.enabled: false</code>).`}
      Messages are shown by their headers only, never their content.
    </p>
    <p id="notice" class="notice" role="status"></p>
    <form id="quarantine-search" class="filters">
      <input type="search" id="search" placeholder="sender, recipient or subject" aria-label="Search" />
      <button type="submit" class="secondary">Search</button>
    </form>
    <table class="grid" id="quarantine-list">
      <thead>
        <tr><th>Quarantined</th><th>Score</th><th>Sender</th><th>Recipients</th><th>Subject</th><th>Size</th></tr>
      </thead>
      <tbody><tr><td colspan="6" class="muted">Loading…</td></tr></tbody>
    </table>
    <p>
      <button type="button" id="prev-page" class="secondary" disabled>Previous</button>
      <span id="page-info" class="muted"></span>
      <button type="button" id="next-page" class="secondary" disabled>Next</button>
    </p>
    <div class="card" id="message-view" hidden>
      <h2 data-field="subject"></h2>
      <table class="grid"><tbody data-field="facts"></tbody></table>
      <h3>Rspamd symbols</h3>
      <table class="grid"><tbody data-field="symbols"></tbody></table>
      <h3>Headers</h3>
      <pre data-field="headers" class="detail"></pre>
      <p>
        <label><input type="checkbox" id="learn-ham" ${a} /> learn as ham</label>
        <button type="button" id="release" ${a}>Release</button>
        <button type="button" id="delete" class="danger" ${a}>Delete</button>
      </p>
    </div>
    <h2>Recent releases and deletes</h2>
    <table class="grid" id="quarantine-actions">
      <thead><tr><th>When</th><th>Who</th><th>Action</th><th>Message</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>`; // prettier-ignore
}

export const quarantinePage: PageModule = {
  path: '/quarantine',
  title: 'Quarantine',
  render,
  scripts: ['quarantine.js'],
  routes,
};
