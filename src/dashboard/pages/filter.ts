/**
 * The Filter page: Bayes training progress (bayes-stats: spam and ham each against
 * `min_learns`), what bayes-learn learned and the recent learns; the antivirus signatures
 * (freshclam's status: version, age, alerts) with "Update now"; the last spam-expunge run;
 * "Bootstrap Bayes" (bayes-bootstrap: the trainers' Junk and old read INBOX mail), its
 * progress and its last result, spam and ham apart.
 * Everything shown comes from the jobs' own status rows and results.
 */
import type { Job } from 'bullmq';
import { bayesBootstrapJob } from '../../jobs/bayes-bootstrap/index.js';
import { bayesBootstrapContract, bayesBootstrapPayload } from '../../jobs/bayes-bootstrap/schema.js';
import type { BayesLearnResult } from '../../jobs/bayes-learn/processor.js';
import { bayesLearnJob } from '../../jobs/bayes-learn/index.js';
import { bayesStatsJob } from '../../jobs/bayes-stats/index.js';
import { freshclamJob } from '../../jobs/freshclam/index.js';
import { SIGNATURES_TARGET } from '../../jobs/freshclam/schema.js';
import { spamExpungeJob } from '../../jobs/spam-expunge/index.js';
import { spamExpungeContract } from '../../jobs/spam-expunge/schema.js';
import type { StatusRow } from '../../jobs/types.js';
import type { Runtime } from '../../runtime.js';
import { html, type SafeHtml } from '../html.js';
import { adminAttrs } from '../layout.js';
import type { ApiRoute, DashboardDeps, PageModule, SessionUser } from '../types.js';
import { currentJob, enqueueFor, finishedJobs, jobView } from './jobs.js';

const RECENT_LEARNS = 20;
/** What "Bootstrap Bayes" asks for: the job's defaults. */
const BOOTSTRAP_DEFAULTS = bayesBootstrapPayload.parse({});

/** A status row, or the reason it could not be read (one failing part does not blank the page). */
async function rowsOf(rt: Runtime, job: { status?: typeof bayesStatsJob.status }): Promise<StatusRow[]> {
  try {
    return (await job.status?.(rt)) ?? [];
  } catch (err) {
    return [
      {
        target: 'error',
        summary: `cannot read: ${(err as Error).message}`,
        severity: 'critical',
        details: {},
      },
    ];
  }
}

/** A recent learn: who, which class, what happened; never the message itself. */
function learnOf(job: Job) {
  const data = job.data as { user?: string; class?: string };
  const r = job.returnvalue as Partial<BayesLearnResult> | null;
  return {
    jobId: job.id!,
    user: data.user ?? '?',
    class: data.class ?? '?',
    outcome: r?.outcome ?? (job.failedReason ? 'failed' : '?'),
    bytes: r?.bytes,
    ...(job.failedReason ? { failedReason: job.failedReason } : {}),
    finishedOn: job.finishedOn,
  };
}

/** Everything the page shows, in one answer. */
export async function filterOverview(rt: Runtime) {
  const expungeTarget = spamExpungeContract.target({ dryRun: false });
  const [
    bayes,
    learn,
    antivirus,
    expunge,
    recent,
    freshclamRunning,
    freshclamLast,
    statsRunning,
    expungeRunning,
    bootstrap,
    bootstrapRunning,
    bootstrapLast,
  ] = await Promise.all([
    rowsOf(rt, bayesStatsJob),
    rowsOf(rt, bayesLearnJob),
    rowsOf(rt, freshclamJob),
    rowsOf(rt, spamExpungeJob),
    finishedJobs(rt, 'bayes-learn', RECENT_LEARNS),
    currentJob(rt, 'freshclam', SIGNATURES_TARGET),
    finishedJobs(rt, 'freshclam', 1),
    currentJob(rt, 'bayes-stats', 'rspamd'),
    currentJob(rt, 'spam-expunge', expungeTarget),
    rowsOf(rt, bayesBootstrapJob),
    currentJob(rt, 'bayes-bootstrap', bayesBootstrapContract.target()),
    finishedJobs(rt, 'bayes-bootstrap', 1),
  ]);
  const lastBootstrap = bootstrapLast[0];
  const last = freshclamLast[0];
  return {
    bayes: {
      minLearns: rt.config.bayesLearn.minLearns,
      row: bayes[0] ?? null,
      current: statsRunning ?? null,
    },
    bootstrap: {
      row: bootstrap[0] ?? null,
      current: bootstrapRunning ?? null,
      lastJob: lastBootstrap
        ? {
            jobId: lastBootstrap.id!,
            finishedOn: lastBootstrap.finishedOn,
            ...(lastBootstrap.failedReason ? { failedReason: lastBootstrap.failedReason } : {}),
          }
        : null,
    },
    learn: { rows: learn, recent: recent.map(learnOf) },
    antivirus: {
      row: antivirus[0] ?? null,
      current: freshclamRunning ?? null,
      lastJob: last
        ? {
            jobId: last.id!,
            finishedOn: last.finishedOn,
            result: last.returnvalue ?? null,
            ...(last.failedReason ? { failedReason: last.failedReason } : {}),
          }
        : null,
    },
    expunge: { row: expunge[0] ?? null, current: expungeRunning ?? null },
  };
}

const routes: ApiRoute[] = [
  { method: 'GET', path: '/filter/overview', role: 'viewer', handle: (_req, { rt }) => filterOverview(rt) },
  {
    method: 'POST',
    path: '/filter/freshclam',
    role: 'admin',
    async handle(req, { rt }) {
      rt.log.info({ by: req.user.name }, 'signature update asked from the dashboard');
      return enqueueFor(rt, 'freshclam', {});
    },
  },
  {
    method: 'POST',
    path: '/filter/bayes-stats',
    role: 'admin',
    handle: (_req, { rt }) => enqueueFor(rt, 'bayes-stats', {}),
  },
  {
    method: 'POST',
    path: '/filter/bayes-bootstrap',
    role: 'admin',
    // The job's own payload: every trainer unless `users`, `max` per class, or a dry run.
    input: bayesBootstrapPayload,
    async handle(req, { rt }) {
      rt.log.info({ by: req.user.name, payload: req.input }, 'Bayes bootstrap asked from the dashboard');
      return enqueueFor(rt, 'bayes-bootstrap', req.input);
    },
  },
  {
    method: 'GET',
    path: '/filter/freshclam/:id',
    role: 'viewer',
    handle: (req, { rt }) => jobView(rt, 'freshclam', req.params.id ?? ''),
  },
];

function meter(kind: 'spam' | 'ham'): SafeHtml {
  return html`<div class="meter" data-meter="${kind}">
    <span>${kind}</span>
    <div class="bar"><div class="fill"></div></div>
    <span data-field="count">…</span>
  </div>`;
}

async function render({ rt }: DashboardDeps, user: SessionUser): Promise<SafeHtml> {
  const a = adminAttrs(user.role === 'admin');
  return html`<section class="page filter">
    <div class="page-head">
      <h1>Filter</h1>
      <span class="notice" id="notice" role="status"></span>
    </div>
    <div class="cards">
      <div class="card" id="bayes">
        <h2>Bayes training</h2>
        <p class="hint">
          Rspamd's Bayes classifies nothing until it learned ${rt.config.bayesLearn.minLearns} spam and
          ${rt.config.bayesLearn.minLearns} ham.
        </p>
        ${meter('spam')}${meter('ham')}
        <p data-field="summary" class="detail"></p>
        <button type="button" id="bayes-refresh" class="secondary" ${a}>Read the counters now</button>
        <h3>Bootstrap</h3>
        <p class="hint">
          Learns the trainers' Junk folders as spam and their INBOX messages read and older than
          ${BOOTSTRAP_DEFAULTS.hamMinAgeDays} days as ham, at most ${BOOTSTRAP_DEFAULTS.max} new of each,
          skipping what was learned before.
        </p>
        <p data-field="bootstrap" class="detail" role="status"></p>
        <p>
          <button type="button" id="bootstrap-dry" class="secondary" ${a}>Count first (dry run)</button>
          <button type="button" id="bootstrap-now" ${a}>Bootstrap Bayes</button>
        </p>
      </div>
      <div class="card" id="antivirus">
        <h2>Antivirus signatures</h2>
        <table class="grid">
          <tr>
            <th>Version</th>
            <td data-field="version">…</td>
          </tr>
          <tr>
            <th>Built</th>
            <td data-field="age">…</td>
          </tr>
          <tr>
            <th>Last update</th>
            <td data-field="last">…</td>
          </tr>
          <tr>
            <th>Status</th>
            <td data-field="status">…</td>
          </tr>
        </table>
        <p>
          <button type="button" id="freshclam-now" ${a}>Update now</button>
          <span class="notice" data-field="job" role="status"></span>
        </p>
      </div>
      <div class="card" id="expunge">
        <h2>Spam expunge</h2>
        <p data-field="summary" class="detail">…</p>
        <table class="grid">
          <tbody data-field="counts"></tbody>
        </table>
      </div>
    </div>
    <h2>Learned from Junk moves</h2>
    <p id="learn-summary" class="detail"></p>
    <table class="grid" id="learns">
      <thead>
        <tr>
          <th>When</th>
          <th>User</th>
          <th>Class</th>
          <th>Outcome</th>
          <th>Size</th>
        </tr>
      </thead>
      <tbody>
        <tr>
          <td colspan="5" class="muted">Loading…</td>
        </tr>
      </tbody>
    </table>
  </section>`;
}

export const filterPage: PageModule = {
  path: '/filter',
  title: 'Filter',
  render,
  scripts: ['filter.js'],
  routes,
};
