/**
 * The Queue page: the Postfix queue's size over a chosen window (queue-monitor's time series:
 * messages and KB), the queue listing paged by queue-monitor's cursor, and resend / delete per
 * message or for all, queued as queue-monitor jobs (its payload schema decides what is valid).
 */
import { z } from 'zod';
import { InvalidPayloadError } from '../../core/errors.js';
import { POSTFIX_QUEUES } from '../../mail/postfix.js';
import { queueSeries, recentActions } from '../../jobs/queue-monitor/index.js';
import { postfixTarget, samplingRun } from '../../jobs/queue-monitor/processor.js';
import { queueMonitorPayload } from '../../jobs/queue-monitor/schema.js';
import { html, type SafeHtml } from '../html.js';
import { adminAttrs } from '../layout.js';
import { HttpError, type ApiRoute, type DashboardDeps, type PageModule, type SessionUser } from '../types.js';
import { enqueueFor, jobView } from './jobs.js';

const JOB = 'queue-monitor';
/** The chart's windows, in minutes: the last minutes to a week (the history kept by default). */
export const WINDOWS = [15, 60, 360, 1440, 10080] as const;

/** Query strings arrive as text: numbers and lists are converted here. */
const seriesQuery = z.object({ minutes: z.coerce.number().int().min(1).max(10080).default(60) });

const listQuery = z.object({
  queue: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((v) =>
      v === undefined || v === '' ? undefined : (Array.isArray(v) ? v : v.split(',')).filter(Boolean),
    ),
  sender: z.string().optional(),
  recipient: z.string().optional(),
  order: z.enum(['oldest', 'newest']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(20),
  after: z.string().optional(),
});

/** Resend or delete (one message or ALL): queue-monitor's own payload, sampling left to its schedule. */
const actionInput = queueMonitorPayload.refine((p) => p.action !== 'sample', {
  message: 'only resend and delete are actions',
  path: ['action'],
});

const routes: ApiRoute[] = [
  {
    method: 'GET',
    path: '/queue/series',
    role: 'viewer',
    input: seriesQuery,
    async handle(req, { rt }) {
      const { minutes } = req.input as z.output<typeof seriesQuery>;
      const [points, run] = await Promise.all([
        queueSeries(rt).read({ sinceMs: Date.now() - minutes * 60_000 }),
        samplingRun(rt),
      ]);
      return {
        minutes,
        points: points.map((p) => ({
          t: p.t,
          resolution: p.resolution,
          count: p.total.count,
          bytes: p.total.bytes,
          queues: Object.fromEntries(POSTFIX_QUEUES.map((q) => [q, p.queues[q].count])),
        })),
        lastSampleAt: run?.lastSuccessAt ?? null,
        ...(run && run.consecutiveFailures > 0 ? { samplingError: run.lastError } : {}),
      };
    },
  },
  {
    method: 'GET',
    path: '/queue/messages',
    role: 'viewer',
    input: listQuery,
    async handle(req, { rt, queueListing }) {
      const q = req.input as z.output<typeof listQuery>;
      const [lastAction] = await recentActions(rt, 1);
      try {
        return await queueListing.get(
          postfixTarget(rt.config),
          {
            ...(q.queue ? { queue: q.queue as (typeof POSTFIX_QUEUES)[number][] } : {}),
            ...(q.sender ? { sender: q.sender } : {}),
            ...(q.recipient ? { recipient: q.recipient } : {}),
            ...(q.order ? { order: q.order } : {}),
            ...(q.after ? { after: q.after } : {}),
            limit: q.limit,
          },
          { timeoutMs: rt.config.postfix.timeoutSeconds * 1000 },
          lastAction?.jobId,
        );
      } catch (err) {
        if (err instanceof InvalidPayloadError) throw new HttpError(400, err.message);
        throw err;
      }
    },
  },
  {
    method: 'POST',
    path: '/queue/actions',
    role: 'admin',
    input: actionInput,
    async handle(req, { rt }) {
      const payload = req.input as z.output<typeof actionInput>;
      rt.log.info({ ...payload, by: req.user.name }, 'queue action asked from the dashboard');
      return enqueueFor(rt, JOB, payload);
    },
  },
  {
    method: 'GET',
    path: '/queue/actions',
    role: 'viewer',
    handle: (_req, { rt }) => recentActions(rt, 20),
  },
  {
    method: 'GET',
    path: '/queue/jobs/:id',
    role: 'viewer',
    handle: (req, { rt }) => jobView(rt, JOB, req.params.id ?? ''),
  },
];

function windowLabel(minutes: number): string {
  return minutes < 60 ? `${minutes} min` : minutes < 1440 ? `${minutes / 60} h` : `${minutes / 1440} d`;
}

async function render(_deps: DashboardDeps, user: SessionUser): Promise<SafeHtml> {
  const a = adminAttrs(user.role === 'admin');
  return html`<section class="page queue">
    <div class="page-head"><h1>Mail queue</h1><span class="notice" id="notice" role="status"></span></div>
    <div class="toolbar">
      <label>Window <select id="window">${WINDOWS.map((m) => html`<option value="${m}"${m === 60 ? html` selected` : ''}>last ${windowLabel(m)}</option>`)}</select></label>
      <span class="muted" id="sampled"></span>
    </div>
    <div class="chart-box">
      <div class="legend"><span><i class="swatch messages"></i>messages</span><span><i class="swatch kb"></i>KB</span></div>
      <svg id="queue-chart" viewBox="0 0 800 260" preserveAspectRatio="none" role="img" aria-label="queue size over time"></svg>
    </div>
    <h2>Queued messages</h2>
    <div class="toolbar">
      <label>Queue <select id="filter-queue"><option value="">all</option>${POSTFIX_QUEUES.map((q) => html`<option value="${q}">${q}</option>`)}</select></label>
      <label>Sender <input id="filter-sender" size="18" /></label>
      <label>Recipient <input id="filter-recipient" size="18" /></label>
      <label>Per page <select id="page-size"><option>20</option><option>50</option><option>100</option></select></label>
      <button type="button" id="resend-all" class="secondary" ${a}>Resend all</button>
      <button type="button" id="delete-all" class="danger" ${a}>Delete all</button>
    </div>
    <table class="grid" id="queue-list">
      <thead><tr><th>Queue id</th><th>Queue</th><th>Arrived</th><th>Size</th><th>Sender</th><th>Recipients</th><th></th></tr></thead>
      <tbody><tr><td colspan="7" class="muted">Loading…</td></tr></tbody>
    </table>
    <div class="toolbar"><button type="button" id="first-page" class="secondary">First page</button><button type="button" id="next-page" class="secondary">Next page</button><span class="muted" id="page-info"></span></div>
    <h2>Recent actions</h2>
    <table class="grid" id="queue-actions"><thead><tr><th>When</th><th>Action</th><th>Queue id</th><th>Result</th></tr></thead><tbody></tbody></table>
    <dialog id="confirm">
      <form method="dialog">
        <p data-field="question"></p>
        <p><button value="cancel" class="secondary">Cancel</button> <button value="ok" class="danger" id="confirm-ok">Yes, do it</button></p>
      </form>
    </dialog>
  </section>`; // prettier-ignore
}

export const queuePage: PageModule = {
  path: '/queue',
  title: 'Queue',
  render,
  scripts: ['queue.js'],
  routes,
};
