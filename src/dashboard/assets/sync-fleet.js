// Synchronization page, bulk part: the fleet of every task (/api/sync/fleet) with its state,
// progress by bytes and messages, rate, ETA, last result and error, filters and totals; bulk
// Start / Cancel / Retry failed; the CSV import (read in the browser, sent once to preview,
// once more to create; the server seals the passwords and keeps no copy of the file).
import { el, errorText, getJson, poll, postJson, say } from './api.js';

const fleet = document.querySelector('#sync-fleet');
const importForm = document.querySelector('#sync-import');

function size(bytes) {
  const b = Number(bytes ?? 0);
  if (b >= 1e9) return `${(b / 1e9).toFixed(2)} GB`;
  if (b >= 1e6) return `${(b / 1e6).toFixed(1)} MB`;
  return `${Math.round(b / 1e3)} kB`;
}

function duration(s) {
  if (s === null || s === undefined) return '?';
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

const percent = (n, of) => (of > 0 ? `${Math.floor((n / of) * 100)} %` : '');

function row(t) {
  const active = t.state === 'running' || t.state === 'done';
  return el(
    'tr',
    { 'data-target': t.target, 'data-state': t.state, class: t.state === 'failed' ? 'alert' : '' },
    el('td', {}, t.remote),
    el('td', {}, t.localUser),
    el('td', { 'data-field': 'state', title: t.waiting ?? '' }, t.state, t.waiting ? `: ${t.waiting}` : ''),
    el(
      'td',
      { 'data-field': 'bytes' },
      active
        ? `${size(t.bytes.copied)} / ${size(t.bytes.total)}${t.bytes.totalFinal ? '' : '+'} ${percent(t.bytes.copied, t.bytes.total)}`
        : '',
    ),
    el('td', { 'data-field': 'messages' }, active ? `${t.messages.done} / ${t.messages.total}` : ''),
    el('td', {}, active && t.bytesPerSecond ? `${size(t.bytesPerSecond)}/s` : ''),
    el('td', {}, t.state === 'running' ? duration(t.etaSeconds) : ''),
    el(
      'td',
      { 'data-field': 'last', title: t.lastError ?? '' },
      t.lastResult ?? '',
      t.lastError ? `: ${t.lastError}` : '',
    ),
  );
}

async function refresh() {
  const filter = fleet.querySelector('[name="filter"]').value;
  const f = await getJson('/sync/fleet', { filter });
  const t = f.totals;
  fleet.querySelector('[data-field="totals"]').textContent =
    `${t.done} of ${t.tasks} accounts done · ${t.running} running · ${t.queued} queued · ${t.failed} failed · ${t.notStarted} not started · ${size(t.bytesMoved)} moved · ETA ${duration(t.etaSeconds)}`;
  const body = fleet.querySelector('tbody');
  body.replaceChildren(
    ...(f.tasks.length
      ? f.tasks.map(row)
      : [el('tr', {}, el('td', { colspan: 8, class: 'muted' }, 'No task.'))]),
  );
}

if (fleet) {
  const poller = poll(refresh, 3000, (err) => say(errorText(err), true));
  fleet.querySelector('[name="filter"]').addEventListener('change', () => poller.now());
  fleet.addEventListener('click', async (ev) => {
    const button = ev.target.closest('button[data-bulk]');
    if (!button) return;
    try {
      const { results } = await postJson('/sync/bulk', { action: button.dataset.bulk });
      const errors = results.filter((r) => r.status === 'error');
      say(
        `${button.textContent}: ${results.length - errors.length} task(s)${errors.length ? `, ${errors.length} error(s): ${errors[0].error}` : ''}`,
        errors.length > 0,
      );
      poller.now();
    } catch (err) {
      say(errorText(err), true);
    }
  });
}

if (importForm) {
  const out = importForm.querySelector('[data-field="preview"]');
  const status = importForm.querySelector('[data-field="status"]');
  const create = importForm.querySelector('[data-action="create"]');
  let text = '';
  const send = async (doCreate) => {
    const file = importForm.elements.file.files[0];
    if (!file) return;
    text = await file.text();
    const r = await postJson('/sync/import', { csv: text, create: doCreate });
    out.replaceChildren(
      ...r.errors.map((e) => el('li', { class: 'bad' }, `line ${e.line}: ${e.field}: ${e.message}`)),
      ...(r.errors.length
        ? []
        : r.rows.map((x) =>
            el(
              'li',
              {},
              `line ${x.line}: ${x.remote} → ${x.localUser} (${x.login})${x.exists ? ', replaces the stored task' : ''}`,
            ),
          )),
    );
    create.disabled = r.errors.length > 0 || doCreate;
    status.className = r.errors.length ? 'notice bad' : 'notice';
    status.textContent = r.errors.length
      ? `${r.errors.length} bad line(s): nothing can be created`
      : doCreate
        ? `${r.created} task(s) created, ${r.replaced} replaced`
        : `${r.rows.length} task(s) to create`;
    if (doCreate) importForm.reset();
  };
  importForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await send(ev.submitter?.dataset.action === 'create');
    } catch (err) {
      status.className = 'notice bad';
      status.textContent = errorText(err);
    }
  });
  importForm.elements.file.addEventListener('change', () => {
    create.disabled = true;
    out.replaceChildren();
    status.textContent = '';
  });
}
