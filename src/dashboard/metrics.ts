/**
 * What `/metrics` shows, read from Redis at each scrape: whichever process serves it (the
 * dashboard, its metrics listener) sees the runs of every worker process, and a scrape never
 * shows a target or queue that is gone. Nothing is kept in this process between scrapes.
 *
 * Jobs by queue and state use BullMQ's own metric name and labels (`bullmq_job_count{queue,
 * state}`), so dashboards made for BullMQ work; BullMQ's `exportPrometheusMetrics()` itself is
 * not used, because it repeats `# HELP`/`# TYPE` for every queue, which Prometheus refuses once
 * several queues share one page.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { readBayesReading } from '../jobs/bayes-stats/index.js';
import { queueSeries } from '../jobs/queue-monitor/index.js';
import { POSTFIX_QUEUES } from '../mail/postfix.js';
import { ClamdClient } from '../mail/clamd.js';
import type { Runtime } from '../runtime.js';
import { DURATION_BUCKETS, RunMetricsStore, type DurationHistogram } from '../worker/run-metrics.js';
import { RunRecordStore } from '../worker/run-record.js';

/** How long a scrape waits for clamd's VERSION before it leaves the signature age out. */
const CLAMD_TIMEOUT_MS = 2000;

const seconds = (ms: number) => ms / 1000;

/**
 * The run duration histogram as the run counters in Redis hold it: prom-client's Histogram
 * only counts observations of its own process, so `get()` answers from the stored buckets.
 */
class StoredHistogram extends Histogram<'job' | 'outcome'> {
  constructor(
    private readonly metricName: string,
    private readonly help: string,
    private readonly stored: readonly DurationHistogram[],
  ) {
    super({
      name: metricName,
      help,
      labelNames: ['job', 'outcome'],
      buckets: [...DURATION_BUCKETS],
      registers: [],
    });
  }

  /**
   * What the registry formats: prom-client calls `getForPromString()` when a metric has one
   * (the Histogram's own `get()` goes through it too).
   */
  async getForPromString() {
    const name = this.metricName;
    const values = this.stored.flatMap(({ job, outcome, cumulative, sumSeconds, count }) => [
      ...DURATION_BUCKETS.map((le, i) => ({
        metricName: `${name}_bucket`,
        labels: { job, outcome, le },
        value: cumulative[i] ?? 0,
      })),
      { metricName: `${name}_bucket`, labels: { job, outcome, le: '+Inf' }, value: count },
      { metricName: `${name}_sum`, labels: { job, outcome }, value: sumSeconds },
      { metricName: `${name}_count`, labels: { job, outcome }, value: count },
    ]);
    return { name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }
}

/** A gauge of `registry`; each scrape makes its own. */
function gauge<L extends string = never>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[] = [],
) {
  return new Gauge<L>({ name, help, labelNames, registers: [registry] });
}

/** An unlabelled gauge, present only when its value is known (prom-client would show 0). */
function known(registry: Registry, name: string, help: string, value: number | undefined): void {
  if (value !== undefined) gauge(registry, name, help).set(value);
}

async function queueMetrics(rt: Runtime): Promise<Registry> {
  const registry = new Registry();
  const jobs = gauge(registry, 'bullmq_job_count', 'Number of jobs in the queue by state', [
    'queue',
    'state',
  ]);
  const workers = gauge(registry, 'mailjobs_queue_workers', 'Workers listening on the queue', ['queue']);
  await Promise.all(
    [...rt.queues].map(async ([name, queue]) => {
      // Workers are counted with CLIENT LIST, which an ACL may refuse: /readyz logs that.
      const [counts, listening] = await Promise.all([
        queue.getJobCounts(),
        queue.getWorkersCount().catch(() => undefined),
      ]);
      for (const [state, n] of Object.entries(counts)) jobs.set({ queue: name, state }, n);
      if (listening !== undefined) workers.set({ queue: name }, listening);
    }),
  );
  return registry;
}

async function runMetrics(rt: Runtime): Promise<Registry> {
  const registry = new Registry();
  const records = new RunRecordStore(rt.redis, rt.key);
  const [perJob, stored] = await Promise.all([
    Promise.all(rt.jobs.map((def) => records.list(def.name))),
    new RunMetricsStore(rt.redis, rt.key).read(),
  ]);
  const target = ['job', 'target'] as const;
  const lastSuccess = gauge(
    registry,
    'mailjobs_target_last_success_timestamp_seconds',
    'When the last run of the target succeeded (Unix time)',
    [...target],
  );
  const failures = gauge(
    registry,
    'mailjobs_target_consecutive_failures',
    'Runs of the target that failed since its last success',
    [...target],
  );
  for (const r of perJob.flat()) {
    const labels = { job: r.job, target: r.target };
    if (r.lastSuccessAt !== undefined) lastSuccess.set(labels, seconds(r.lastSuccessAt));
    failures.set(labels, r.consecutiveFailures);
  }
  registry.registerMetric(
    new StoredHistogram(
      'mailjobs_job_duration_seconds',
      'How long runs took, by job and outcome (its _count: runs ended)',
      stored.durations,
    ),
  );
  const moved = ['job', 'action'];
  const messages = new Counter({
    name: 'mailjobs_messages_total',
    help: 'Messages moved by successful runs: getmail fetched and delivered, imapsync copied',
    labelNames: moved,
    registers: [registry],
  });
  const bytes = new Counter({
    name: 'mailjobs_message_bytes_total',
    help: 'Bytes of the messages moved (getmail: fetched, imapsync: copied)',
    labelNames: moved,
    registers: [registry],
  });
  const restarts = new Counter({
    name: 'mailjobs_worker_restarts_total',
    help: 'Workers replaced by the watchdog because they stopped taking jobs',
    labelNames: ['queue'],
    registers: [registry],
  });
  // Every queue from the start, at 0: an alert on increase() sees the first restart.
  for (const def of rt.jobs) restarts.inc({ queue: def.name }, 0);
  for (const r of stored.restarts) restarts.inc({ queue: r.queue }, r.count);
  for (const t of stored.moved) {
    messages.inc({ job: t.job, action: t.action }, t.messages);
    if (t.bytes > 0) bytes.inc({ job: t.job, action: t.action }, t.bytes);
  }
  return registry;
}

/** Signature age as clamd reports it now (`VERSION`), as `mailjobs status` does. */
async function clamavMetrics(rt: Runtime): Promise<Registry> {
  const registry = new Registry();
  const version = await new ClamdClient(rt.config.clamd)
    .version({ timeoutMs: CLAMD_TIMEOUT_MS })
    .catch(() => undefined);
  known(registry, 'mailjobs_clamd_up', '1 when clamd answered VERSION during this scrape', version ? 1 : 0);
  const built = version?.dbDate?.getTime();
  known(
    registry,
    'mailjobs_clamav_signatures_age_seconds',
    'Age of the daily signature database clamd runs',
    built && seconds(Date.now() - built),
  );
  return registry;
}

/** The latest bayes-stats reading and queue-monitor sample, as those jobs stored them. */
async function storedReadings(rt: Runtime): Promise<Registry> {
  const registry = new Registry();
  const [bayes, sample] = await Promise.all([
    readBayesReading(rt),
    queueSeries({ redis: rt.redis, key: rt.key, config: rt.config }).latest(),
  ]);
  const learned = gauge(
    registry,
    'mailjobs_bayes_learned',
    'Messages Rspamd Bayes has learned, by class (last bayes-stats reading)',
    ['class'],
  );
  const s = bayes.reading;
  if (s?.spam !== undefined) learned.set({ class: 'spam' }, s.spam);
  if (s?.ham !== undefined) learned.set({ class: 'ham' }, s.ham);
  known(
    registry,
    'mailjobs_bayes_min_learns',
    'Learned messages of each class Bayes needs before it classifies',
    s?.minLearns,
  );
  const count = gauge(
    registry,
    'mailjobs_postfix_queue_messages',
    'Messages in the Postfix queue (last queue-monitor sample)',
    ['queue'],
  );
  const size = gauge(
    registry,
    'mailjobs_postfix_queue_bytes',
    'Bytes in the Postfix queue (last queue-monitor sample)',
    ['queue'],
  );
  for (const q of sample ? POSTFIX_QUEUES : []) {
    count.set({ queue: q }, sample!.queues[q]?.count ?? 0);
    size.set({ queue: q }, sample!.queues[q]?.bytes ?? 0);
  }
  known(
    registry,
    'mailjobs_postfix_queue_sampled_timestamp_seconds',
    'When the last queue-monitor sample was taken (Unix time)',
    sample && seconds(sample.t),
  );
  return registry;
}

/** One scrape: fresh registries filled from Redis (and clamd), in a fixed order. */
export async function collectMetrics(rt: Runtime): Promise<{ contentType: string; text: string }> {
  const parts = await Promise.all([queueMetrics(rt), runMetrics(rt), clamavMetrics(rt), storedReadings(rt)]);
  const registry = Registry.merge(parts);
  return { contentType: registry.contentType, text: await registry.metrics() };
}
