// Queue page: the queue-size chart (hand-drawn SVG: messages and KB over the chosen window,
// redrawn every 10 s), the paged listing with resend / delete per message, and resend-all /
// delete-all behind a confirmation dialog. Actions are queue-monitor jobs, followed until done.
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

const SVG = 'http://www.w3.org/2000/svg';
const W = 800;
const H = 260;
const PAD = { left: 48, right: 56, top: 12, bottom: 28 };
const COLORS = { count: '#2357c6', bytes: '#c46a12' };

const chart = document.querySelector('#queue-chart');
const windowSelect = document.querySelector('#window');
const sampled = document.querySelector('#sampled');
const listBody = document.querySelector('#queue-list tbody');
const pageInfo = document.querySelector('#page-info');
const nextButton = document.querySelector('#next-page');
const actionsBody = document.querySelector('#queue-actions tbody');
const dialog = document.querySelector('#confirm');

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A round top for an axis of four steps: each step 1, 2 or 5 × 10^n, at least 1. */
function axisTop(v) {
  const raw = Math.max(v, 1) / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((m) => m >= raw);
  return Math.max(4, step * 4);
}

function clock(t, minutes) {
  const d = new Date(t);
  const hm = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return minutes > 1440 ? `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${hm}` : hm;
}

/** Draws the points: messages on the left axis, KB on the right, time along the bottom. */
export function drawChart(series) {
  const now = Date.now();
  const from = now - series.minutes * 60_000;
  const pts = series.points;
  const maxCount = axisTop(Math.max(0, ...pts.map((p) => p.count)));
  const maxKb = axisTop(Math.max(0, ...pts.map((p) => p.bytes / 1024)));
  const x = (t) => PAD.left + ((t - from) / (now - from)) * (W - PAD.left - PAD.right);
  const y = (v, max) => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
  const nodes = [];
  for (let i = 0; i <= 4; i++) {
    const gy = y((maxCount * i) / 4, maxCount);
    nodes.push(
      svg('line', { x1: PAD.left, x2: W - PAD.right, y1: gy, y2: gy, stroke: '#dde2e8' }),
      svg(
        'text',
        { x: PAD.left - 6, y: gy + 4, 'text-anchor': 'end', 'font-size': 11, fill: COLORS.count },
        String(Math.round((maxCount * i) / 4)),
      ),
      svg(
        'text',
        { x: W - PAD.right + 6, y: gy + 4, 'font-size': 11, fill: COLORS.bytes },
        `${Math.round((maxKb * i) / 4)} KB`,
      ),
    );
  }
  for (let i = 0; i <= 4; i++) {
    const t = from + ((now - from) * i) / 4;
    nodes.push(
      svg(
        'text',
        {
          x: x(t),
          y: H - 8,
          'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle',
          'font-size': 11,
          fill: '#6b7685',
        },
        clock(t, series.minutes),
      ),
    );
  }
  if (pts.length === 0) {
    nodes.push(
      svg(
        'text',
        { x: W / 2, y: H / 2, 'text-anchor': 'middle', fill: '#6b7685' },
        'no samples in this window',
      ),
    );
  } else {
    const line = (key, value, max) =>
      svg('polyline', {
        'data-series': key,
        points: pts.map((p) => `${x(p.t).toFixed(1)},${y(value(p), max).toFixed(1)}`).join(' '),
        fill: 'none',
        stroke: COLORS[key],
        'stroke-width': 2,
        'stroke-linejoin': 'round',
      });
    nodes.push(
      line('bytes', (p) => p.bytes / 1024, maxKb),
      line('count', (p) => p.count, maxCount),
    );
    const last = pts[pts.length - 1];
    nodes.push(
      svg('circle', { cx: x(last.t), cy: y(last.count, maxCount), r: 3, fill: COLORS.count }, undefined),
    );
    nodes.push(svg('title', {}, `now: ${last.count} messages, ${Math.round(last.bytes / 1024)} KB`));
  }
  chart.replaceChildren(...nodes);
  chart.dataset.points = String(pts.length);
  sampled.textContent = series.samplingError
    ? `sampling fails: ${series.samplingError}`
    : `sampled ${relativeTime(series.lastSampleAt)}`;
  sampled.className = series.samplingError ? 'bad' : 'muted';
}

const chartPoller = poll(
  async () => drawChart(await getJson('/queue/series', { minutes: windowSelect.value })),
  10_000,
  (err) => say(`chart: ${errorText(err)}`, true),
);
windowSelect.addEventListener('change', () => chartPoller.now());

// The listing: the cursor of each page shown so far, so "Next" goes on and a refresh stays put.
let cursor;
let nextCursor;

function filters() {
  const q = { limit: document.querySelector('#page-size').value };
  const queue = document.querySelector('#filter-queue').value;
  const sender = document.querySelector('#filter-sender').value.trim();
  const recipient = document.querySelector('#filter-recipient').value.trim();
  if (queue) q.queue = queue;
  if (sender) q.sender = sender;
  if (recipient) q.recipient = recipient;
  if (cursor) q.after = cursor;
  return q;
}

function messageRow(m) {
  const busy = (b) =>
    b
      .closest('tr')
      .querySelectorAll('button')
      .forEach((x) => (x.disabled = true));
  return el(
    'tr',
    { 'data-queue-id': m.queueId },
    el('td', {}, el('code', {}, m.queueId)),
    el('td', {}, m.queue),
    el('td', { title: localTime(m.arrivalTime) }, relativeTime(m.arrivalTime)),
    el('td', {}, `${Math.max(1, Math.round(m.size / 1024))} KB`),
    el('td', {}, m.sender || '<>'),
    el(
      'td',
      { class: 'detail' },
      ...m.recipients.map((r) =>
        el('div', {}, r.address, r.delayReason ? el('div', { class: 'muted' }, r.delayReason) : ''),
      ),
    ),
    el(
      'td',
      { class: 'actions' },
      el(
        'button',
        {
          type: 'button',
          class: 'secondary',
          'data-requires-admin': true,
          on: { click: (ev) => (busy(ev.target), act('resend', m.queueId)) },
        },
        'Resend',
      ),
      ' ',
      el(
        'button',
        {
          type: 'button',
          class: 'danger',
          'data-requires-admin': true,
          on: { click: (ev) => (busy(ev.target), act('delete', m.queueId)) },
        },
        'Delete',
      ),
    ),
  );
}

const listPoller = poll(
  async () => {
    const page = await getJson('/queue/messages', filters());
    listBody.replaceChildren(
      ...(page.messages.length === 0
        ? [
            el(
              'tr',
              {},
              el('td', { colspan: 7, class: 'muted' }, cursor ? 'No more messages.' : 'The queue is empty.'),
            ),
          ]
        : page.messages.map(messageRow)),
    );
    if (!isAdmin()) for (const b of listBody.querySelectorAll('button')) b.disabled = true;
    nextCursor = page.nextCursor;
    nextButton.disabled = !nextCursor;
    pageInfo.textContent = `${page.matched} matching of ${page.scanned} queued; listed ${localTime(page.listedAt)}`;
    const actions = await getJson('/queue/actions');
    actionsBody.replaceChildren(
      ...actions.map((a) =>
        el(
          'tr',
          {},
          el('td', { title: localTime(a.at) }, relativeTime(a.at)),
          el('td', {}, a.action),
          el('td', {}, a.queueId),
          el('td', {}, a.action === 'delete' ? `${a.deleted ?? 0} deleted` : 'asked Postfix to deliver'),
        ),
      ),
    );
  },
  10_000,
  (err) => say(`listing: ${errorText(err)}`, true),
);

const restart = () => {
  cursor = undefined;
  listPoller.now();
};
nextButton.addEventListener('click', () => {
  cursor = nextCursor;
  listPoller.now();
});
document.querySelector('#first-page').addEventListener('click', restart);
for (const id of ['#filter-queue', '#page-size'])
  document.querySelector(id).addEventListener('change', restart);
for (const id of ['#filter-sender', '#filter-recipient'])
  document.querySelector(id).addEventListener('change', restart);

/** Queues a resend/delete job and follows it; the listing and the chart refresh when it ends. */
async function act(action, queueId) {
  const what = `${action} ${queueId === 'ALL' ? 'all' : queueId}`;
  try {
    const outcome = await postJson('/queue/actions', { action, queueId });
    say(`${what}: ${outcomeText(outcome)}`);
    const follow = poll(
      async () => {
        const view = await getJson(`/queue/jobs/${encodeURIComponent(outcome.jobId)}`);
        if (view.state !== 'completed' && view.state !== 'failed') return;
        follow.stop();
        if (view.state === 'failed') say(`${what}: failed: ${view.failedReason}`, true);
        else say(`${what}: done${action === 'delete' ? `, ${view.result.deleted} deleted` : ''}`);
        listPoller.now();
        chartPoller.now();
      },
      500,
      (err) => say(`${what}: ${errorText(err)}`, true),
    );
  } catch (err) {
    say(`${what}: ${errorText(err)}`, true);
    listPoller.now();
  }
}

/** Asks in a modal dialog; resolves true on "Yes". */
function confirmAction(question) {
  dialog.querySelector('[data-field="question"]').textContent = question;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) =>
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true }),
  );
}

document.querySelector('#resend-all').addEventListener('click', async () => {
  if (await confirmAction('Ask Postfix to deliver every queued message now?')) await act('resend', 'ALL');
});
document.querySelector('#delete-all').addEventListener('click', async () => {
  if (await confirmAction('Delete every message in the queue? This cannot be undone.'))
    await act('delete', 'ALL');
});
