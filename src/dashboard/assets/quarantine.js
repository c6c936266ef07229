// Quarantine page: the paged, searchable list of quarantined messages, one message's facts,
// Rspamd symbols and header block (text nodes only: nothing of a message is parsed as HTML),
// and Release (optionally learned as ham) / Delete for admins.
import {
  deleteJson,
  el,
  errorText,
  getJson,
  isAdmin,
  localTime,
  postJson,
  relativeTime,
  say,
} from './api.js';

const listBody = document.querySelector('#quarantine-list tbody');
const pageInfo = document.querySelector('#page-info');
const prevButton = document.querySelector('#prev-page');
const nextButton = document.querySelector('#next-page');
const searchInput = document.querySelector('#search');
const view = document.querySelector('#message-view');
const field = (name) => view.querySelector(`[data-field="${name}"]`);
const actionsBody = document.querySelector('#quarantine-actions tbody');

let page = 1;
let search = '';
let shown; // the id in the message view

const sender = (i) => (i.from === undefined ? '?' : i.from === '' ? '<>' : i.from);
const score = (i) => (i.score === undefined ? '?' : i.score.toFixed(2));

function row(i) {
  return el(
    'tr',
    { 'data-id': i.id, class: shown === i.id ? 'selected' : undefined },
    el('td', { title: localTime(Date.parse(i.savedAt)) }, relativeTime(Date.parse(i.savedAt))),
    el('td', {}, score(i)),
    el('td', {}, sender(i)),
    el('td', { class: 'detail' }, i.to.length ? i.to.join(', ') : '?'),
    el(
      'td',
      {},
      el(
        'a',
        { href: '#', on: { click: (ev) => (ev.preventDefault(), open(i.id)) } },
        i.subject || '(no subject)',
      ),
      i.notReleasable ? el('span', { class: 'muted' }, ' (not releasable)') : '',
    ),
    el('td', {}, `${Math.max(1, Math.round(i.size / 1024))} KB`),
  );
}

async function load() {
  const query = { page: String(page), pageSize: '25' };
  if (search) query.search = search;
  const list = await getJson('/quarantine/messages', query);
  listBody.replaceChildren(
    ...(list.items.length === 0
      ? [
          el(
            'tr',
            {},
            el(
              'td',
              { colspan: 6, class: 'muted' },
              search ? 'No message matches.' : 'The quarantine is empty.',
            ),
          ),
        ]
      : list.items.map(row)),
  );
  const pages = Math.max(1, Math.ceil(list.total / list.pageSize));
  pageInfo.textContent = `${list.total} message${list.total === 1 ? '' : 's'}${search ? ' matching' : ''}; page ${list.page} of ${pages}`;
  prevButton.disabled = page <= 1;
  nextButton.disabled = page >= pages;
  const actions = await getJson('/quarantine/actions');
  actionsBody.replaceChildren(
    ...actions.map((a) =>
      el(
        'tr',
        {},
        el('td', { title: localTime(a.at) }, relativeTime(a.at)),
        el('td', {}, a.by),
        el('td', {}, a.action),
        el('td', {}, `${a.id} ${a.subject ?? ''}`),
      ),
    ),
  );
}

const refresh = () => load().catch((err) => say(`listing: ${errorText(err)}`, true));

async function open(id) {
  try {
    const { item, headers } = await getJson(`/quarantine/messages/${encodeURIComponent(id)}`);
    shown = id;
    field('subject').textContent = item.subject || '(no subject)';
    const facts = [
      ['Quarantine id', item.id],
      ['Quarantined', item.quarantinedAt ?? item.savedAt],
      ['Envelope from', sender(item)],
      ['Envelope to', item.to.join(', ') || '?'],
      ['From', item.headerFrom],
      [
        'Score',
        `${score(item)}${item.threshold !== undefined ? ` / ${item.threshold.toFixed(2)}` : ''} (${item.action ?? '?'})`,
      ],
      ['Queue id', item.queueId ?? '?'],
      ['Size', `${item.size} bytes`],
      ...(item.notReleasable ? [['Not releasable', item.notReleasable]] : []),
    ];
    field('facts').replaceChildren(...facts.map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {}, v))));
    field('symbols').replaceChildren(
      ...item.symbols.map((s) =>
        el('tr', {}, el('td', {}, el('code', {}, s.name)), el('td', {}, s.score.toFixed(2))),
      ),
    );
    field('headers').textContent = headers;
    view.querySelector('#release').disabled = !isAdmin() || Boolean(item.notReleasable);
    view.querySelector('#delete').disabled = !isAdmin();
    view.hidden = false;
  } catch (err) {
    say(`message ${id}: ${errorText(err)}`, true);
  }
}

async function act(what) {
  const id = shown;
  const buttons = view.querySelectorAll('button');
  buttons.forEach((b) => (b.disabled = true));
  try {
    if (what === 'release') {
      const r = await postJson(`/quarantine/messages/${encodeURIComponent(id)}/release`, {
        learnHam: view.querySelector('#learn-ham').checked,
      });
      say(
        `released ${id} to ${[...r.alreadyDelivered, ...r.delivered].join(', ')}${r.learnHam ? `; learn as ham: ${r.learnHam}` : ''}`,
      );
    } else {
      await deleteJson(`/quarantine/messages/${encodeURIComponent(id)}`);
      say(`deleted ${id}`);
    }
    view.hidden = true;
    shown = undefined;
  } catch (err) {
    say(`${what} ${id}: ${errorText(err)}`, true);
    buttons.forEach((b) => (b.disabled = !isAdmin()));
  }
  await refresh();
}

document.querySelector('#quarantine-search').addEventListener('submit', (ev) => {
  ev.preventDefault();
  search = searchInput.value.trim();
  page = 1;
  void refresh();
});
prevButton.addEventListener('click', () => ((page = Math.max(1, page - 1)), void refresh()));
nextButton.addEventListener('click', () => ((page += 1), void refresh()));
view.querySelector('#release').addEventListener('click', () => void act('release'));
view.querySelector('#delete').addEventListener('click', () => void act('delete'));
void refresh();
