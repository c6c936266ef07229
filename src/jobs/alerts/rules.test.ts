import { describe, expect, it } from 'vitest';
import { alertRulesSchema } from '../../config/alerts.js';
import { evaluateRules, queueGrowing, type AlertSnapshot, type ConnectorSnapshot } from './rules.js';

const H = 3_600_000;
const NOW = 1_000 * H;
const rules = alertRulesSchema.parse({});

function snapshot(more: Partial<AlertSnapshot> = {}): AlertSnapshot {
  return {
    now: NOW,
    connectors: [],
    syncs: [],
    signatureProblems: [],
    postfixQueue: [],
    queues: [],
    ...more,
  };
}

function connector(run: Partial<NonNullable<ConnectorSnapshot['run']>>, held = 0): ConnectorSnapshot {
  return {
    id: 'john-gmx',
    host: 'pop.gmx.net',
    username: 'john',
    deliverTo: 'john',
    held,
    run: { job: 'getmail', target: 'john-gmx', consecutiveFailures: 0, ...run },
  };
}

const ids = (s: AlertSnapshot, r = rules) => evaluateRules(s, r).map((c) => c.id);

describe('evaluateRules', () => {
  it('nothing to say about a healthy server', () => {
    const s = snapshot({
      connectors: [connector({ lastSuccessAt: NOW - 60_000, lastOutcome: 'success' })],
      syncs: [{ job: 'imapsync', target: 'move-anna', consecutiveFailures: 0, lastOutcome: 'success' }],
      postfixQueue: [{ t: NOW - 60_000, count: 3 }],
      queues: [{ name: 'getmail', failed: 2, workers: 1 }],
    });
    expect(evaluateRules(s, rules)).toEqual([]);
  });

  it('a connector failing 3 runs in a row, naming the account and the reason, for its owner too', () => {
    const two = connector({ consecutiveFailures: 2, lastError: 'LOGIN refused', lastOutcome: 'failure' });
    expect(ids(snapshot({ connectors: [two] }))).toEqual([]);
    const three = connector({ consecutiveFailures: 3, lastError: 'LOGIN refused', lastOutcome: 'failure' });
    expect(evaluateRules(snapshot({ connectors: [three] }), rules)).toEqual([
      {
        id: 'connector-failing:john-gmx',
        text: 'connector john-gmx (john at pop.gmx.net) failed 3 runs in a row: LOGIN refused',
        user: 'john',
      },
    ]);
    expect(ids(snapshot({ connectors: [three] }), { ...rules, connectorFailures: false })).toEqual([]);
  });

  it('a connector with no success for 24 h', () => {
    const at = (h: number) => connector({ consecutiveFailures: 1, lastSuccessAt: NOW - h * H });
    expect(ids(snapshot({ connectors: [at(23.9)] }))).toEqual([]);
    expect(ids(snapshot({ connectors: [at(24)] }))).toEqual(['connector-no-success:john-gmx']);
    // Quiet but not failing (nothing new to fetch is a success): nothing to say.
    const quiet = connector({ consecutiveFailures: 0, lastSuccessAt: NOW - 48 * H });
    expect(ids(snapshot({ connectors: [quiet] }))).toEqual([]);
  });

  it('held messages, a failed migration, signatures, Bayes learns', () => {
    const s = snapshot({
      connectors: [connector({ lastOutcome: 'success' }, 2)],
      syncs: [
        {
          job: 'imapsync',
          target: 'move-anna',
          consecutiveFailures: 1,
          lastOutcome: 'failure',
          lastError: 'quota',
        },
      ],
      signatureProblems: ['signatures are 3 days old (limit 24 h)'],
      queues: [
        {
          name: 'bayes-learn',
          failed: 1,
          workers: 1,
          newestFailed: { at: NOW - 10, reason: 'rspamd down' },
          newestCompletedAt: NOW - 20,
        },
      ],
    });
    expect(evaluateRules(s, rules).map((c) => [c.id, c.text])).toEqual([
      [
        'held:john-gmx',
        'connector john-gmx holds 2 message(s) that failed run after run (see the Connectors page)',
      ],
      ['sync-failed:move-anna', 'migration move-anna failed: quota'],
      ['signatures', 'antivirus: signatures are 3 days old (limit 24 h)'],
      ['bayes-learn-failing', 'Bayes learning fails: rspamd down'],
    ]);
    // A later learn succeeded: learning works again.
    const later = { ...s, queues: [{ ...s.queues[0]!, newestCompletedAt: NOW }] };
    expect(ids(later)).not.toContain('bayes-learn-failing');
    const off = {
      ...rules,
      heldMessages: false,
      syncFailed: false,
      signatures: false,
      bayesLearnFailing: false,
    };
    expect(ids(s, off)).toEqual([]);
  });

  it('failed jobs piling up and queues nobody listens to', () => {
    const s = snapshot({
      queues: [
        { name: 'getmail', failed: 51, workers: 0 },
        { name: 'freshclam', failed: 50, workers: 2 },
      ],
    });
    expect(ids(s)).toEqual(['failed-jobs:getmail', 'no-worker:getmail']);
    expect(ids(s, { ...rules, failedJobsMax: false, noWorker: false })).toEqual([]);
  });

  it('the Postfix queue above its limit', () => {
    expect(ids(snapshot({ postfixQueue: [{ t: NOW, count: 1001 }] }))).toEqual(['postfix-queue-size']);
    expect(ids(snapshot({ postfixQueue: [{ t: NOW, count: 1000 }] }))).toEqual([]);
  });
});

describe('queueGrowing', () => {
  const min = 60_000;
  const series = (counts: number[], stepMin = 5) =>
    counts.map((count, i) => ({ t: NOW - (counts.length - 1 - i) * stepMin * min, count }));

  it('grew over the whole window and never fell back to where it was', () => {
    expect(queueGrowing(series([10, 12, 12, 15, 20, 30, 40]), 30, NOW)).toBe(true);
    // Fell back to its start once: the backlog drained meanwhile.
    expect(queueGrowing(series([10, 12, 9, 15, 20, 30, 40]), 30, NOW)).toBe(false);
    // Flat is not growing.
    expect(queueGrowing(series([10, 10, 10, 10, 10, 10, 10]), 30, NOW)).toBe(false);
  });

  it('says nothing before it has been sampled for the whole window', () => {
    expect(queueGrowing(series([10, 20, 30, 40, 50]), 30, NOW)).toBe(false);
    expect(queueGrowing([], 30, NOW)).toBe(false);
  });
});
