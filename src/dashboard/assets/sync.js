// Synchronization page: polls /api/sync/tasks for each task's last result and live progress,
// Start / Test login / Cancel per task, the ad-hoc form, and the report of a finished run. A task
// whose remote side logs in with OAuth2 shows its grant and sign-in (oauth.js).
import {
  ApiError,
  el,
  errorText,
  getJson,
  isAdmin,
  localTime,
  outcomeText,
  poll,
  postJson,
  relativeTime,
  say,
} from './api.js';
import { oauthBlock } from './oauth.js';

const taskRows = new Map(
  [...document.querySelectorAll('#sync-tasks tr[data-task]')].map((r) => [r.dataset.task, r]),
);
const adhocBody = document.querySelector('#sync-adhoc tbody');
const report = document.querySelector('#sync-report');
const form = document.querySelector('#adhoc-form');
const adhocStatus = document.querySelector('#adhoc-status');
/** jobId → what to do once it ends (show its report). */
const watched = new Map();

function duration(seconds) {
  if (seconds === null || seconds === undefined) return '?';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

function megabytes(bytes) {
  return `${(Number(bytes ?? 0) / 1048576).toFixed(1)} MB`;
}

/** `INBOX · 120/600 messages · folders 1/3 · 85.2 msg/s · ETA 6 s` */
export function progressText(p) {
  if (!p || typeof p !== 'object') return '';
  const done = Number(p.copied ?? 0) + Number(p.skipped ?? 0);
  const parts = [];
  if (p.folder) parts.push(p.folder);
  if (p.total !== undefined) parts.push(`${done}/${p.total} messages`);
  if (p.foldersTotal) parts.push(`folders ${p.foldersDone ?? 0}/${p.foldersTotal}`);
  if (p.rate !== undefined) parts.push(`${p.rate} msg/s`);
  if (p.etaSeconds !== undefined && p.etaSeconds !== null) parts.push(`ETA ${duration(p.etaSeconds)}`);
  return parts.join(' · ');
}

function showProgress(cell, view) {
  const bar = cell.querySelector('progress');
  const text = cell.querySelector('[data-field="progress"]');
  if (!view) {
    bar.hidden = true;
    text.textContent = '';
    return;
  }
  const p = view.progress && typeof view.progress === 'object' ? view.progress : undefined;
  const done = p ? Number(p.copied ?? 0) + Number(p.skipped ?? 0) : 0;
  bar.hidden = !(p && p.total);
  if (p && p.total) {
    bar.max = p.total;
    bar.value = done;
  }
  text.textContent = view.state === 'active' ? progressText(p) || 'starting…' : view.state;
}

function renderTask(t) {
  const row = taskRows.get(t.id);
  if (!row) return;
  row.classList.toggle('alert', t.severity !== 'ok');
  const summary = row.querySelector('[data-field="summary"]');
  summary.textContent = t.summary;
  summary.title = t.run?.lastStartAt ? `last run ${localTime(t.run.lastStartAt)}` : '';
  showProgress(row.querySelector('[data-field="now"]'), t.current);
  row.querySelector('[data-field="oauth"]')?.replaceChildren(
    ...[
      oauthBlock(
        t.oauth,
        `/sync/tasks/${encodeURIComponent(t.id)}/oauth-login`,
        () => poller.now(),
        (text, bad) => say(`${t.id}: ${text}`, bad),
      ),
    ].flat(),
  );
  const busy = Boolean(t.current);
  if (isAdmin())
    for (const b of row.querySelectorAll('[data-action="start"], [data-action="test"]'))
      b.disabled = busy || !t.enabled;
  const cancel = row.querySelector('[data-action="cancel"]');
  if (cancel) {
    cancel.hidden = !busy;
    cancel.dataset.job = t.current?.id ?? '';
  }
  const reportButton = row.querySelector('[data-action="report"]');
  reportButton.hidden = !t.lastJobId;
  reportButton.dataset.job = t.lastJobId ?? '';
  if (t.current) watch(t.current.id, `task ${t.id}`, row);
}

function renderAdhoc(list) {
  adhocBody.replaceChildren(
    ...(list.length === 0
      ? [el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'None yet.'))]
      : list.map((a) => {
          const now =
            a.state === 'active'
              ? progressText(a.progress)
              : a.state === 'failed'
                ? a.failedReason
                : a.state === 'completed'
                  ? `${a.outcome ?? ''} ${relativeTime(a.finishedOn)}`
                  : '';
          return el(
            'tr',
            { 'data-job': a.jobId },
            el('td', {}, a.remote),
            el('td', {}, a.localUser),
            el('td', {}, a.testLogin ? 'test login' : 'sync'),
            el('td', { class: a.state === 'failed' ? 'bad' : '' }, a.state),
            el('td', { class: 'detail' }, now ?? ''),
            el(
              'td',
              {},
              el(
                'button',
                {
                  type: 'button',
                  class: 'secondary',
                  on: { click: () => showReport(a.jobId, `${a.remote} → ${a.localUser}`) },
                },
                'Report',
              ),
            ),
          );
        })),
  );
}

async function refresh() {
  const data = await getJson('/sync/tasks');
  for (const t of data.tasks) renderTask(t);
  renderAdhoc(data.adhoc);
}

const poller = poll(refresh, 2000, (err) => say(`cannot refresh: ${errorText(err)}`, true));

/**
 * Follows job `id` every second until it ends, then shows its report; with `row` (a task's),
 * its progress shows there meanwhile, between the slower refreshes of the whole list.
 */
function watch(id, title, row) {
  if (watched.has(id)) return;
  watched.set(id, title);
  const follow = poll(
    async () => {
      const view = await getJson(`/sync/jobs/${encodeURIComponent(id)}`);
      if (row && view.state === 'active') showProgress(row.querySelector('[data-field="now"]'), view);
      if (view.state === 'completed' || view.state === 'failed') {
        follow.stop();
        renderReport(view, title);
        poller.now();
      }
    },
    1000,
    (err) => {
      if (err instanceof ApiError && err.status === 404) follow.stop();
    },
  );
}

function cell(label, value) {
  return el('tr', {}, el('th', {}, label), el('td', {}, String(value ?? 0)));
}

/** The run's final report (imapsync's), or why it failed. */
export function renderReport(view, title) {
  const body = report.querySelector('[data-field="body"]');
  report.querySelector('[data-field="title"]').textContent = `${title} · job ${view.id} · ${view.state}`;
  const r = view.result;
  const parts = [];
  if (view.state === 'failed')
    parts.push(el('p', { class: 'error', 'data-field': 'outcome' }, `failed: ${view.failedReason ?? ''}`));
  else if (r && r.skipped)
    parts.push(el('p', { class: 'warning', 'data-field': 'outcome' }, `skipped: ${r.skipped}`));
  if (r && r.outcome) {
    const mode = [r.testLogin && 'test login', r.dryRun && 'dry run', r.justFolders && 'folders only']
      .filter(Boolean)
      .join(', ');
    parts.push(
      el(
        'p',
        { 'data-field': 'outcome', class: r.outcome === 'ok' ? 'ok' : 'bad' },
        `outcome: ${r.outcome}${mode ? ` (${mode})` : ''}`,
      ),
      el(
        'table',
        { class: 'grid totals' },
        cell('folders on source', r.foldersOnSource),
        cell(
          'folders synced / created / excluded / failed',
          `${r.foldersSynced} / ${r.foldersCreated} / ${r.foldersExcluded} / ${r.foldersFailed}`,
        ),
        cell('messages on source', r.messagesOnSource),
        cell('already there', r.alreadyThere),
        cell(r.dryRun ? 'would copy' : 'copied', r.copied),
        cell('flags updated', r.flagsUpdated),
        cell('deleted on destination / source', `${r.deletedOnDestination} / ${r.deletedOnSource}`),
        cell('refused / too old', `${r.refused} / ${r.tooOld}`),
        cell('size', megabytes(r.bytes)),
        cell(
          'time',
          `${duration(r.durationMs / 1000)} (${r.messagesPerSecond} msg/s, ${r.megabytesPerSecond} MB/s)`,
        ),
      ),
    );
    if (Array.isArray(r.folders) && r.folders.length) {
      parts.push(
        el(
          'table',
          { class: 'grid folders' },
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              ...[
                'Source',
                'Destination',
                'On source',
                'Already there',
                'Copied',
                'Flags',
                'Refused',
                'Note',
              ].map((h) => el('th', {}, h)),
            ),
          ),
          el(
            'tbody',
            {},
            ...r.folders.map((f) =>
              el(
                'tr',
                { class: f.error ? 'alert' : '' },
                el('td', {}, f.source),
                el('td', {}, f.destination),
                el('td', {}, String(f.onSource)),
                el('td', {}, String(f.alreadyThere)),
                el('td', {}, String(f.copied)),
                el('td', {}, String(f.flagsUpdated)),
                el('td', {}, String(f.refused)),
                el('td', { class: 'detail' }, f.error ?? (f.unchanged ? 'unchanged' : '')),
              ),
            ),
          ),
        ),
      );
    }
    if (Array.isArray(r.errors) && r.errors.length) {
      parts.push(
        el(
          'ul',
          { class: 'errors' },
          ...r.errors.map((e) => el('li', {}, `${e.folder}${e.uid ? ` UID ${e.uid}` : ''}: ${e.reason}`)),
        ),
      );
    }
  }
  if (view.trail?.length)
    parts.push(el('details', {}, el('summary', {}, 'Job trail'), el('pre', {}, view.trail.join('\n'))));
  body.replaceChildren(...parts);
  report.hidden = false;
}

async function showReport(id, title) {
  try {
    renderReport(await getJson(`/sync/jobs/${encodeURIComponent(id)}`), title);
    report.scrollIntoView({ block: 'nearest' });
  } catch (err) {
    say(`no report: ${errorText(err)}`, true);
  }
}

function describe(outcome) {
  if (outcome.status === 'queued') return `queued (job ${outcome.jobId})`;
  if (outcome.status === 'running') return outcomeText(outcome);
  return 'already queued';
}

document.querySelector('#sync-tasks')?.addEventListener('click', async (ev) => {
  const button = ev.target.closest('button[data-action]');
  if (!button) return;
  const id = button.closest('tr').dataset.task;
  try {
    switch (button.dataset.action) {
      case 'start':
      case 'test': {
        const test = button.dataset.action === 'test';
        const outcome = await postJson(
          `/sync/tasks/${encodeURIComponent(id)}/start`,
          test ? { testLogin: true } : {},
        );
        say(`${id}: ${test ? 'login test ' : ''}${describe(outcome)}`);
        watch(outcome.jobId, `task ${id}${test ? ' (test login)' : ''}`, button.closest('tr'));
        break;
      }
      case 'cancel': {
        const outcome = await postJson(`/sync/jobs/${encodeURIComponent(button.dataset.job)}/cancel`);
        say(`${id}: ${outcome.status === 'removed' ? 'removed from the queue' : 'cancelling…'}`);
        break;
      }
      case 'report':
        await showReport(button.dataset.job, `task ${id}`);
        return;
    }
    poller.now();
  } catch (err) {
    say(`${id}: ${errorText(err)}`, true);
  }
});

if (form) {
  const loginFields = () => {
    const admin = form.elements.useAdmin.checked;
    for (const l of form.querySelectorAll('[data-login]')) l.hidden = (l.dataset.login === 'admin') !== admin;
  };
  form.elements.useAdmin.addEventListener('change', loginFields);
  loginFields();

  const lines = (text) =>
    text
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    const test = ev.submitter?.value === 'test';
    const options = {
      trash: f.trash.checked,
      deleteOnDestination: f.deleteOnDestination.checked,
      deleteOnSource: f.deleteOnSource.checked,
      dryRun: f.dryRun.checked,
      justFolders: f.justFolders.checked,
    };
    if (lines(f.exclude.value).length) options.exclude = lines(f.exclude.value);
    if (lines(f.include.value).length) options.include = lines(f.include.value);
    if (f.subfolder.value.trim()) options.subfolder = f.subfolder.value.trim();
    if (f.maxAgeDays.value) options.maxAgeDays = Number(f.maxAgeDays.value);
    const body = {
      host: f.host.value,
      security: f.security.value,
      verifyCertificate: f.verifyCertificate.checked,
      username: f.username.value,
      localUser: f.localUser.value,
      options,
      testLogin: test,
    };
    if (f.port.value) body.port = Number(f.port.value);
    if (f.useAdmin.checked)
      body.admin = { user: f.adminUser.value, password: f.adminPassword.value, method: f.adminMethod.value };
    else body.password = f.password.value;
    adhocStatus.className = 'notice';
    adhocStatus.textContent = test ? 'testing the logins…' : 'queueing…';
    try {
      const outcome = await postJson('/sync/adhoc', body);
      // The server sealed them; the page keeps no copy.
      f.password.value = '';
      f.adminPassword.value = '';
      adhocStatus.textContent = `${test ? 'login test' : 'sync'} ${describe(outcome)}`;
      watch(
        outcome.jobId,
        `${f.username.value}@${f.host.value} → ${f.localUser.value}${test ? ' (test login)' : ''}`,
      );
      poller.now();
    } catch (err) {
      adhocStatus.className = 'notice bad';
      adhocStatus.textContent = errorText(err);
    }
  });
}
