/**
 * The alert rules, as one pure function: what is wrong now, from a snapshot of what the
 * worker's records, the queues, clamd and Postfix say. No I/O here (snapshot.ts gathers), so
 * every rule is tested with plain objects. A condition's `id` is stable while the problem
 * lasts, so state.ts can tell a problem that starts from one that goes on.
 */
import type { AlertRules } from '../../config/alerts.js';
import type { RunRecord } from '../../worker/run-record.js';

/** One connector as the rules see it. */
export interface ConnectorSnapshot {
  id: string;
  host: string;
  username: string;
  /** The local user the connector delivers to. */
  deliverTo: string;
  run?: RunRecord;
  /** Messages held after failing run after run. */
  held: number;
}

/** One BullMQ queue: failed jobs kept, workers listening, the newest finished job of each kind. */
export interface QueueSnapshot {
  name: string;
  failed: number;
  /** Unknown when Redis refuses CLIENT LIST to our user. */
  workers?: number;
  newestFailed?: { at: number; reason: string };
  newestCompletedAt?: number;
}

/** The Postfix queue's total count over time (queue-monitor's samples), oldest first. */
export interface PostfixQueuePoint {
  t: number;
  count: number;
}

export interface AlertSnapshot {
  now: number;
  connectors: ConnectorSnapshot[];
  /** imapsync run records (one per task). */
  syncs: RunRecord[];
  /** Why the signatures need a look (freshclam's own rule); empty when all is well. */
  signatureProblems: string[];
  postfixQueue: PostfixQueuePoint[];
  queues: QueueSnapshot[];
}

/** A problem that holds now. */
export interface AlertCondition {
  /** Stable while the problem lasts, e.g. `connector-failing:john`. */
  id: string;
  /** One line, safe to mail and log: no secret, no message content. */
  text: string;
  /** A local user to tell as well (a connector's owner), when `alerts.notifyUsers`. */
  user?: string;
}

const HOUR = 3_600_000;

function connectorConditions(c: ConnectorSnapshot, rules: AlertRules, now: number): AlertCondition[] {
  const out: AlertCondition[] = [];
  const run = c.run;
  const account = `${c.username} at ${c.host}`;
  const reason = run?.lastError ? `: ${run.lastError}` : '';
  if (run && rules.connectorFailures !== false && run.consecutiveFailures >= rules.connectorFailures) {
    out.push({
      id: `connector-failing:${c.id}`,
      text: `connector ${c.id} (${account}) failed ${run.consecutiveFailures} runs in a row${reason}`,
      user: c.deliverTo,
    });
  }
  // A connector that never succeeded is the failures-in-a-row rule's business.
  if (
    run?.lastSuccessAt !== undefined &&
    rules.connectorNoSuccessHours !== false &&
    run.consecutiveFailures > 0
  ) {
    const hours = (now - run.lastSuccessAt) / HOUR;
    if (hours >= rules.connectorNoSuccessHours) {
      out.push({
        id: `connector-no-success:${c.id}`,
        text: `connector ${c.id} (${account}) has had no successful run for ${Math.floor(hours)} h${reason}`,
        user: c.deliverTo,
      });
    }
  }
  if (rules.heldMessages && c.held > 0) {
    out.push({
      id: `held:${c.id}`,
      text: `connector ${c.id} holds ${c.held} message(s) that failed run after run (see the Connectors page)`,
    });
  }
  return out;
}

/** True when the queue grew over the last `minutes` and never fell below where it started. */
export function queueGrowing(points: readonly PostfixQueuePoint[], minutes: number, now: number): boolean {
  const from = now - minutes * 60_000;
  const before = points.filter((p) => p.t <= from).at(-1);
  if (!before) return false; // not sampled for that long: nothing to say yet
  const window = points.filter((p) => p.t > from);
  const last = window.at(-1);
  return last !== undefined && last.count > before.count && window.every((p) => p.count >= before.count);
}

function postfixConditions(s: AlertSnapshot, rules: AlertRules): AlertCondition[] {
  const out: AlertCondition[] = [];
  const latest = s.postfixQueue.at(-1);
  if (!latest) return out;
  if (rules.postfixQueueMax !== false && latest.count > rules.postfixQueueMax) {
    out.push({
      id: 'postfix-queue-size',
      text: `the Postfix queue holds ${latest.count} messages (limit ${rules.postfixQueueMax})`,
    });
  }
  const minutes = rules.postfixQueueGrowingMinutes;
  if (minutes !== false && queueGrowing(s.postfixQueue, minutes, s.now)) {
    out.push({
      id: 'postfix-queue-growing',
      text: `the Postfix queue has been growing for ${minutes} minutes (now ${latest.count} messages)`,
    });
  }
  return out;
}

function queueConditions(q: QueueSnapshot, rules: AlertRules): AlertCondition[] {
  const out: AlertCondition[] = [];
  if (rules.failedJobsMax !== false && q.failed > rules.failedJobsMax) {
    out.push({
      id: `failed-jobs:${q.name}`,
      text: `queue ${q.name} keeps ${q.failed} failed jobs (limit ${rules.failedJobsMax})`,
    });
  }
  if (rules.noWorker && q.workers === 0) {
    out.push({ id: `no-worker:${q.name}`, text: `no worker listens on queue ${q.name}` });
  }
  if (
    rules.bayesLearnFailing &&
    q.name === 'bayes-learn' &&
    q.newestFailed &&
    q.newestFailed.at > (q.newestCompletedAt ?? 0)
  ) {
    out.push({ id: 'bayes-learn-failing', text: `Bayes learning fails: ${q.newestFailed.reason}` });
  }
  return out;
}

/** Every condition that holds in `s`, in a stable order. */
export function evaluateRules(s: AlertSnapshot, rules: AlertRules): AlertCondition[] {
  return [
    ...s.connectors.flatMap((c) => connectorConditions(c, rules, s.now)),
    ...(rules.syncFailed
      ? s.syncs
          .filter((r) => r.lastOutcome === 'failure')
          .map((r) => ({
            id: `sync-failed:${r.target}`,
            text: `migration ${r.target} failed${r.lastError ? `: ${r.lastError}` : ''}`,
          }))
      : []),
    ...(rules.signatures && s.signatureProblems.length > 0
      ? [{ id: 'signatures', text: `antivirus: ${s.signatureProblems.join('; ')}` }]
      : []),
    ...postfixConditions(s, rules),
    ...s.queues.flatMap((q) => queueConditions(q, rules)),
  ];
}
