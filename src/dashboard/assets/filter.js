// Filter page: polls /api/filter/overview for Bayes training, recent learns, the antivirus
// signatures and the last spam-expunge run; "Update now" queues freshclam and follows it;
// "Bootstrap Bayes" queues bayes-bootstrap (or its dry run) and shows its progress and result.
import { el, errorText, getJson, localTime, outcomeText, poll, postJson, relativeTime, say } from './api.js';

const bayes = document.querySelector('#bayes');
const antivirus = document.querySelector('#antivirus');
const expunge = document.querySelector('#expunge');
const learns = document.querySelector('#learns tbody');
const learnSummary = document.querySelector('#learn-summary');

const field = (root, name) => root.querySelector(`[data-field="${name}"]`);

function renderBayes(b) {
  const d = b.row?.details ?? {};
  const min = d.minLearns ?? b.minLearns;
  for (const kind of ['spam', 'ham']) {
    const m = bayes.querySelector(`[data-meter="${kind}"]`);
    const n = d[kind];
    const fill = m.querySelector('.fill');
    fill.style.width = n === undefined ? '0' : `${Math.min(100, (100 * n) / min)}%`;
    fill.classList.toggle('full', n !== undefined && n >= min);
    field(m, 'count').textContent = n === undefined ? '?' : `${n} / ${min}`;
  }
  const summary = field(bayes, 'summary');
  summary.textContent = b.current
    ? `reading the counters… (${b.row?.summary ?? ''})`
    : (b.row?.summary ?? '');
  summary.className = b.row && b.row.severity !== 'ok' ? 'detail bad' : 'detail';
}

function counted(c) {
  return c ? c.learned + c.wouldLearn : 0;
}

function renderBootstrap(b) {
  const line = field(bayes, 'bootstrap');
  const p = b.current?.progress;
  if (b.current) {
    line.textContent =
      p && p.users !== undefined
        ? `bootstrap running: users ${p.usersDone}/${p.users}, spam ${counted(p.spam)}, ham ${counted(p.ham)}…`
        : `bootstrap ${b.current.state}…`;
  } else if (b.lastJob?.failedReason) {
    line.textContent = `last bootstrap failed ${relativeTime(b.lastJob.finishedOn)}: ${b.lastJob.failedReason}`;
  } else {
    line.textContent = b.row ? `Bootstrap: ${b.row.summary}` : 'Bootstrap: never run.';
  }
  line.className = b.lastJob?.failedReason && !b.current ? 'detail bad' : 'detail';
  for (const id of ['#bootstrap-now', '#bootstrap-dry']) {
    document.querySelector(id).dataset.busy = b.current ? 'yes' : '';
  }
}

function renderAntivirus(a) {
  const d = a.row?.details ?? {};
  field(antivirus, 'version').textContent = d.clamdError
    ? `clamd unreachable: ${d.clamdError}`
    : `daily ${d.dbVersion ?? '?'}${d.engine ? ` (ClamAV ${d.engine})` : ''}`;
  const age = field(antivirus, 'age');
  age.textContent = d.dbDate ? relativeTime(Date.parse(d.dbDate)) : 'unknown';
  age.title = d.dbDate ? localTime(Date.parse(d.dbDate)) : '';
  const run = a.row?.run;
  field(antivirus, 'last').textContent =
    run?.consecutiveFailures > 0
      ? `failed ${relativeTime(run.lastFailureAt)} (${run.consecutiveFailures}× in a row): ${run.lastError ?? ''}`
      : `ok ${relativeTime(run?.lastSuccessAt)}`;
  const status = field(antivirus, 'status');
  const critical = a.row?.severity === 'critical';
  status.textContent = critical ? `ALERT: ${(d.alerts ?? []).join('; ')}` : (a.row?.severity ?? 'ok');
  status.className = a.row && a.row.severity !== 'ok' ? 'bad' : 'ok';
  const job = field(antivirus, 'job');
  if (a.current) job.textContent = `update ${a.current.state}…`;
  else if (a.lastJob)
    job.textContent = a.lastJob.failedReason
      ? `last update failed ${relativeTime(a.lastJob.finishedOn)}: ${a.lastJob.failedReason}`
      : `last update finished ${relativeTime(a.lastJob.finishedOn)}: ${updateText(a.lastJob.result)}`;
  document.querySelector('#freshclam-now').dataset.busy = a.current ? 'yes' : '';
}

function updateText(r) {
  if (!r) return '';
  if (r.skipped) return `skipped (${r.skipped})`;
  const updated = r.updated ?? [];
  if (updated.length === 0) return 'already up to date';
  return `updated ${updated.join(', ')}${r.clamd?.reload ? `, reload ${r.clamd.reload}` : ''}`;
}

function renderExpunge(e) {
  const run = e.row?.run;
  const summary = field(expunge, 'summary');
  summary.textContent = e.current ? `running now… ${e.row?.summary ?? ''}` : (e.row?.summary ?? '');
  summary.className = e.row && e.row.severity !== 'ok' ? 'detail bad' : 'detail';
  const r = run?.lastSuccessAt ? run.lastCounts : undefined;
  field(expunge, 'counts').replaceChildren(
    ...(r
      ? [
          ['last success', relativeTime(run.lastSuccessAt)],
          ['users', r.users],
          ['messages examined', r.examined],
          ['expunged', r.expunged],
          ['kept', r.kept],
          ['users without Junk', r.noJunk],
          ['users failed', r.errors],
        ].map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {}, String(v ?? 0))))
      : []),
  );
}

function renderLearns(l) {
  const learned = l.rows.find((r) => r.target === 'learned');
  const trainers = l.rows.find((r) => r.target === 'trainers');
  learnSummary.textContent = [learned?.summary, trainers ? `Trainers: ${trainers.summary}` : '']
    .filter(Boolean)
    .join('. ');
  learns.replaceChildren(
    ...(l.recent.length === 0
      ? [el('tr', {}, el('td', { colspan: 5, class: 'muted' }, 'Nothing learned recently.'))]
      : l.recent.map((x) =>
          el(
            'tr',
            {},
            el('td', { title: localTime(x.finishedOn) }, relativeTime(x.finishedOn)),
            el('td', {}, x.user),
            el('td', {}, x.class),
            el(
              'td',
              { class: x.failedReason ? 'bad' : '' },
              x.failedReason ? `failed: ${x.failedReason}` : x.outcome,
            ),
            el('td', {}, x.bytes === undefined ? '' : `${Math.round(x.bytes / 1024)} KB`),
          ),
        )),
  );
}

const poller = poll(
  async () => {
    const o = await getJson('/filter/overview');
    renderBayes(o.bayes);
    renderBootstrap(o.bootstrap);
    renderAntivirus(o.antivirus);
    renderExpunge(o.expunge);
    renderLearns(o.learn);
  },
  3000,
  (err) => say(`cannot refresh: ${errorText(err)}`, true),
);

async function trigger(path, what, body) {
  try {
    const outcome = await postJson(path, body);
    say(`${what}: ${outcomeText(outcome)}`);
    poller.now();
  } catch (err) {
    say(`${what}: ${errorText(err)}`, true);
  }
}

document
  .querySelector('#freshclam-now')
  .addEventListener('click', () => trigger('/filter/freshclam', 'signature update'));
document
  .querySelector('#bayes-refresh')
  .addEventListener('click', () => trigger('/filter/bayes-stats', 'Bayes counters'));
document
  .querySelector('#bootstrap-now')
  .addEventListener('click', () => trigger('/filter/bayes-bootstrap', 'Bayes bootstrap', {}));
document
  .querySelector('#bootstrap-dry')
  .addEventListener('click', () =>
    trigger('/filter/bayes-bootstrap', 'Bayes bootstrap (dry run)', { dryRun: true }),
  );
