import { describe, expect, it } from 'vitest';
import type { AlertCondition } from './rules.js';
import { afterMail, EMPTY_STATE, stepAlerts, type AlertState } from './state.js';

const MIN = 60_000;
const LIMIT = 15 * MIN;
const a: AlertCondition = { id: 'connector-failing:a', text: 'connector a failed 3 runs in a row' };
const b: AlertCondition = { id: 'no-worker:getmail', text: 'no worker listens on queue getmail' };

/** Runs the evaluator over `timeline` (minute → conditions), sending every mail that is due. */
function run(timeline: [number, AlertCondition[]][]) {
  let state: AlertState = EMPTY_STATE;
  const mails: { at: number; started: string[]; cleared: string[]; ongoing: string[] }[] = [];
  for (const [minute, conditions] of timeline) {
    const step = stepAlerts(state, conditions, minute * MIN, LIMIT);
    state = step.state;
    if (step.mail) {
      mails.push({
        at: minute,
        started: step.mail.started.map((x) => x.id),
        cleared: step.mail.cleared.map((x) => x.id),
        ongoing: step.mail.ongoing.map((x) => x.id),
      });
      state = afterMail(state, minute * MIN);
    }
  }
  return { state, mails };
}

describe('stepAlerts', () => {
  it('one mail when a problem starts, none while it lasts, one when it clears', () => {
    const { mails, state } = run([
      [0, [a]],
      [1, [a]],
      [2, [a]],
      [20, [a]],
      [21, []],
      [22, []],
    ]);
    expect(mails).toEqual([
      { at: 0, started: [a.id], cleared: [], ongoing: [] },
      { at: 21, started: [], cleared: [a.id], ongoing: [] },
    ]);
    expect(state).toEqual({ active: [], cleared: [], lastMailAt: 21 * MIN });
  });

  it('groups what happens between two mails into the next one, and holds the rate limit', () => {
    const { mails } = run([
      [0, [a]],
      [1, [a, b]], // b waits: a mail went 1 min ago
      [5, [b]], // a cleared: waits as well
      [15, [b]],
      [16, [b]],
    ]);
    expect(mails).toEqual([
      { at: 0, started: [a.id], cleared: [], ongoing: [] },
      { at: 15, started: [b.id], cleared: [a.id], ongoing: [] },
    ]);
  });

  it('changes that cancel out before the next mail are never mailed', () => {
    const { mails } = run([
      [0, [a]],
      [1, [a, b]], // b starts...
      [2, [a]], // ...and ends before anyone was told
      [3, []], // a clears...
      [4, [a]], // ...and is back before its "cleared" mail: for the postmaster it never ended
      [30, [a]],
    ]);
    expect(mails).toEqual([{ at: 0, started: [a.id], cleared: [], ongoing: [] }]);
  });

  it('keeps when a problem started, and says what still goes on', () => {
    const first = stepAlerts(EMPTY_STATE, [a], 0, LIMIT);
    const sent = afterMail(first.state, 0);
    const later = stepAlerts(
      sent,
      [{ ...a, text: 'connector a failed 9 runs in a row' }, b],
      30 * MIN,
      LIMIT,
    );
    expect(later.started.map((x) => x.id)).toEqual([b.id]);
    expect(later.mail?.ongoing).toEqual([
      { ...a, text: 'connector a failed 9 runs in a row', since: 0, mailed: true },
    ]);
  });

  it('a mail that could not be sent stays due: the next step offers it again', () => {
    const first = stepAlerts(EMPTY_STATE, [a], 0, LIMIT);
    expect(first.mail?.started.map((x) => x.id)).toEqual([a.id]);
    // Not sent: the caller keeps `first.state` without afterMail.
    const again = stepAlerts(first.state, [a], MIN, LIMIT);
    expect(again.started).toEqual([]);
    expect(again.mail?.started.map((x) => x.id)).toEqual([a.id]);
  });
});
