/**
 * The books of a bayes-bootstrap run: per class, what was learned (or, in a dry run, would be)
 * and why the rest was not, for the whole run and per user; when a class has reached `max`.
 */
import type { LearnClass } from '../bayes-learn/learned.js';
import type { LearnOnceOutcome } from '../bayes-learn/learn-once.js';

/** One class's counts. */
export interface ClassCounts {
  /** Sent to Rspamd and taken (0 in a dry run). */
  learned: number;
  /** Dry run: would be sent to Rspamd (not known yet to Rspamd or our record). */
  wouldLearn: number;
  /** Learned before as this class (our record, or Rspamd's 208): skipped. */
  alreadyLearned: number;
  /** A later move of the message (into or out of Junk) was learned: that one stands. */
  superseded: number;
  /**
   * Rspamd's 204: it declined to learn the message: too few words for Bayes, or its learn
   * conditions (once Bayes is active, a message it already classifies as this class with
   * high confidence is not learned again: "all learn conditions denied learning").
   */
  declined: number;
}

const zero = (): ClassCounts => ({
  learned: 0,
  wouldLearn: 0,
  alreadyLearned: 0,
  superseded: 0,
  declined: 0,
});

const FIELD: Record<LearnOnceOutcome | 'would-learn', keyof ClassCounts> = {
  learned: 'learned',
  'would-learn': 'wouldLearn',
  'already-learned': 'alreadyLearned',
  superseded: 'superseded',
  'too-few-words': 'declined',
};

/** Counts of one run: in total and for the user being read. */
export class BootstrapTally {
  readonly total = { spam: zero(), ham: zero() };
  private user = { spam: zero(), ham: zero() };

  constructor(private readonly max: number) {}

  /** Starts a user's own counts; returns the finished user's. */
  nextUser(): { spam: ClassCounts; ham: ClassCounts } {
    const done = this.user;
    this.user = { spam: zero(), ham: zero() };
    return done;
  }

  add(cls: LearnClass, outcome: LearnOnceOutcome | 'would-learn'): void {
    this.total[cls][FIELD[outcome]]++;
    this.user[cls][FIELD[outcome]]++;
  }

  /** How many more of `cls` this run may learn (or count as would-learn). */
  room(cls: LearnClass): number {
    const t = this.total[cls];
    return Math.max(0, this.max - t.learned - t.wouldLearn);
  }
}
