// Connectors page: polls /api/connectors, renders the table, "Fetch now" / "Fetch all", and
// follows each triggered job until it ends. Held messages show under their account's row, with
// "Retry" and "Deliver anyway" for admins. An OAuth2 account shows its grant and sign-in (oauth.js).
import {
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

const tbody = document.querySelector('#connectors tbody');
const notice = document.querySelector('#notice');
const orphans = document.querySelector('#orphans');
/** account → { jobId, text, view } of the job the user triggered. */
const watched = new Map();
let latest = [];

const COUNT_KEYS = [
  'delivered',
  'fetched',
  'spam',
  'infected',
  'discarded',
  'tooBig',
  'failed',
  'duplicates',
  'deferred',
];

function counts(result) {
  if (!result || typeof result !== 'object') return '';
  if (result.skipped) return `skipped: ${result.skipped}`;
  return COUNT_KEYS.filter((k) => k === 'delivered' || Number(result[k]) > 0)
    .map((k) => `${result[k] ?? 0} ${k}`)
    .join(', ');
}

function progressText(p) {
  if (p === undefined || p === null || p === 0) return '';
  if (typeof p !== 'object') return String(p);
  const parts = [];
  if (p.folder) parts.push(p.folder);
  if (p.done !== undefined) parts.push(p.total !== undefined ? `${p.done}/${p.total}` : `${p.done}`);
  return parts.join(' ');
}

function jobText(view) {
  if (!view) return '';
  if (view.state === 'completed') return `done: ${counts(view.result)}`;
  if (view.state === 'failed') return `failed: ${view.failedReason ?? ''}`;
  return `${view.state} ${progressText(view.progress)}`.trim();
}

function lastRun(c) {
  if (!c.lastRunAt) return el('span', { class: 'muted' }, 'never');
  const ok = !c.lastError || (c.lastSuccessAt && c.lastSuccessAt >= c.lastRunAt);
  return el(
    'span',
    { title: localTime(c.lastRunAt) },
    el('span', { class: ok ? 'ok' : 'bad' }, ok ? 'ok' : 'failed'),
    ` ${relativeTime(c.lastRunAt)}`,
    ok ? '' : el('div', { class: 'detail' }, c.lastError ?? ''),
  );
}

async function fetchNow(account) {
  try {
    const r = await postJson('/connectors/fetch', { account });
    watched.set(account, { jobId: r.jobId, text: outcomeText(r) });
    notice.textContent = `${account}: ${outcomeText(r)}`;
  } catch (err) {
    notice.textContent = `${account}: ${errorText(err)}`;
  }
  await refresh.now();
}

async function releaseHeld(account, key, how) {
  try {
    const r = await postJson(`/connectors/held/${how}`, { account, key });
    watched.set(account, { jobId: r.jobId, text: outcomeText(r) });
    notice.textContent = `${account}: ${how === 'retry' ? 'retry' : 'deliver anyway'}, fetch ${outcomeText(r)}`;
  } catch (err) {
    notice.textContent = `${account}: ${errorText(err)}`;
  }
  await refresh.now();
}

const heldButton = (c, h, how, label, title) =>
  el(
    'button',
    {
      type: 'button',
      class: `held-${how}`,
      title,
      'data-requires-admin': true,
      disabled: !isAdmin() || !c.enabled,
      on: { click: () => releaseHeld(c.id, h.key, how) },
    },
    label,
  );

/** The row under an account that lists its held messages (none: no row). */
function heldRow(c) {
  if (!c.held?.length) return [];
  const items = c.held.map((h) =>
    el(
      'li',
      { 'data-key': h.key },
      `${h.messageId ?? h.key}: ${h.reason} (failed ${h.failures} runs, held ${relativeTime(h.since)}) `,
      heldButton(c, h, 'retry', 'Retry', 'Try it again at the next run (a fetch is queued)'),
      ' ',
      heldButton(c, h, 'deliver-anyway', 'Deliver anyway', 'Deliver it unscanned, with the null sender'),
    ),
  );
  return [
    el(
      'tr',
      { class: 'held', 'data-held-for': c.id },
      el(
        'td',
        { colspan: 12 },
        el('div', { class: 'warning-text' }, `${c.held.length} held: not tried until an admin says so`),
        el('ul', {}, items),
      ),
    ),
  ];
}

/** Push (IDLE): watching since when, the last new-mail event; or why not. */
function pushCell(p) {
  if (!p) return el('td', {}, '—');
  const bad = p.state === 'error' ? 'bad' : '';
  const lines = [
    el('div', {}, p.state === 'watching' ? `watching, connected ${relativeTime(p.since)}` : p.state),
  ];
  lines.push(el('div', { class: 'detail' }, p.text));
  if (p.lastEventAt)
    lines.push(
      el(
        'div',
        { class: 'detail', title: localTime(p.lastEventAt) },
        `last mail ${relativeTime(p.lastEventAt)}`,
      ),
    );
  return el(
    'td',
    { class: `push ${bad}`, 'data-push': p.state, title: p.since ? localTime(p.since) : '' },
    lines,
  );
}

function row(c) {
  const w = watched.get(c.id);
  const now = w?.view ? jobText(w.view) : c.current ? jobText(c.current) : (w?.text ?? '');
  const cls = [
    c.severity !== 'ok' ? 'alert' : '',
    c.inconsistent.length ? 'inconsistent' : '',
    c.enabled ? '' : 'disabled',
  ];
  return el(
    'tr',
    { 'data-account': c.id, class: cls.filter(Boolean).join(' ') },
    el(
      'td',
      {},
      c.id,
      c.inconsistent.map((reason) =>
        el('div', { class: 'detail warning-text', title: reason }, `⚠ ${reason}`),
      ),
      oauthBlock(
        c.oauth,
        `/connectors/${encodeURIComponent(c.id)}/oauth-login`,
        () => refresh.now(),
        (text, bad) => say(`${c.id}: ${text}`, bad),
      ),
    ),
    el('td', {}, c.protocol),
    el('td', {}, c.host),
    el('td', {}, c.deliverTo),
    el('td', {}, c.enabled ? 'yes' : 'no'),
    el('td', {}, lastRun(c)),
    el('td', { class: 'counts' }, counts(c.lastResult)),
    el('td', { title: localTime(c.nextRunAt) }, c.enabled && c.nextRunAt ? relativeTime(c.nextRunAt) : '—'),
    pushCell(c.push),
    el('td', { class: c.consecutiveFailures > 0 ? 'bad' : '' }, String(c.consecutiveFailures)),
    el('td', { class: 'job', 'data-job': w?.jobId ?? c.current?.id ?? '' }, now),
    el(
      'td',
      {},
      el(
        'button',
        {
          type: 'button',
          class: 'fetch',
          'data-requires-admin': true,
          disabled: !isAdmin() || !c.enabled,
          on: { click: () => fetchNow(c.id) },
        },
        'Fetch now',
      ),
    ),
  );
}

function render() {
  tbody.replaceChildren(
    ...(latest.length
      ? latest.flatMap((c) => [row(c), ...heldRow(c)])
      : [el('tr', {}, el('td', { colspan: 12, class: 'muted' }, 'No connector in the config.'))]),
  );
}

const refresh = poll(async () => {
  const data = await getJson('/connectors');
  latest = data.connectors;
  await Promise.all(
    [...watched.values()].map(async (w) => {
      if (!w.jobId || w.view?.state === 'completed' || w.view?.state === 'failed') return;
      w.view = await getJson(`/connectors/jobs/${encodeURIComponent(w.jobId)}`).catch(() => w.view);
    }),
  );
  orphans.hidden = data.orphanSchedules.length === 0;
  orphans.textContent = `Schedules in Redis for connectors no longer in the config: ${data.orphanSchedules.join(', ')} (reload mailjobs).`;
  render();
}, 2000);

document.querySelector('#fetch-all')?.addEventListener('click', async () => {
  try {
    const r = await postJson('/connectors/fetch-all');
    for (const o of r.outcomes) watched.set(o.account, { jobId: o.jobId, text: outcomeText(o) });
    notice.textContent =
      r.outcomes.map((o) => `${o.account}: ${outcomeText(o)}`).join('; ') || 'no enabled connector';
  } catch (err) {
    notice.textContent = errorText(err);
  }
  await refresh.now();
});
