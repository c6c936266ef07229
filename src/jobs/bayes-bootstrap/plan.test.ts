import { describe, expect, it } from 'vitest';
import { trainingSources } from './sources.js';
import { BootstrapTally } from './tally.js';

describe('trainingSources', () => {
  it('reads every Junk folder as spam and old read unflagged INBOX mail as ham, under the size limit', () => {
    const now = Date.UTC(2026, 11, 5, 12);
    const s = trainingSources(['Junk', 'Spam'], { hamMinAgeDays: 14, maxMessageKilobytes: 64, now });
    expect(s).toEqual([
      { class: 'spam', folder: 'Junk', query: { smaller: 65_537 } },
      { class: 'spam', folder: 'Spam', query: { smaller: 65_537 } },
      {
        class: 'ham',
        folder: 'INBOX',
        query: {
          seen: true,
          before: new Date(Date.UTC(2026, 10, 21, 12)),
          smaller: 65_537,
          unKeyword: '$Junk',
          not: { keyword: 'Junk' },
        },
      },
    ]);
  });

  it('without a Junk folder reads ham only', () => {
    expect(
      trainingSources([], { hamMinAgeDays: 0, maxMessageKilobytes: 1, now: 0 }).map((x) => x.class),
    ).toEqual(['ham']);
  });
});

describe('BootstrapTally', () => {
  it('fills each class up to max with learns or would-learns; skips never use room', () => {
    const t = new BootstrapTally(2);
    t.add('spam', 'learned');
    t.add('spam', 'already-learned');
    t.add('spam', 'too-few-words');
    expect(t.room('spam')).toBe(1);
    t.add('spam', 'would-learn');
    expect(t.room('spam')).toBe(0);
    expect(t.room('ham')).toBe(2);
    expect(t.total.spam).toEqual({
      learned: 1,
      wouldLearn: 1,
      alreadyLearned: 1,
      superseded: 0,
      declined: 1,
    });
  });

  it('keeps each user apart from the run total', () => {
    const t = new BootstrapTally(10);
    t.add('ham', 'learned');
    expect(t.nextUser().ham.learned).toBe(1);
    t.add('ham', 'superseded');
    expect(t.nextUser().ham).toEqual({
      learned: 0,
      wouldLearn: 0,
      alreadyLearned: 0,
      superseded: 1,
      declined: 0,
    });
    expect(t.total.ham).toMatchObject({ learned: 1, superseded: 1 });
  });
});
