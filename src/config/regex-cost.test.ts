import { describe, expect, it } from 'vitest';
import { backtrackingRisk } from './regex-cost.js';

describe('folder pattern cost', () => {
  it.each([
    '(a+)+',
    '^(a+)+$',
    '(a|a)*',
    '(.*)*',
    '(?:x(a|b))+y',
    '(a?){30}a{30}',
    '.*.*x',
    '.*a.*b',
    '[a-z]+[a-z]+x',
    '^.*a.*b.*c',
    'a?'.repeat(9),
    '^Sent|.*a.*',
  ])('refuses %s', (pattern) => {
    expect(backtrackingRisk(pattern)).toEqual(expect.any(String));
  });

  it.each([
    '^Archive/20(0|1)',
    '^INBOX$',
    '^(Sent|Drafts)/.*/[0-9]+',
    'Archive.*old',
    '^.*a.*b',
    '^Projekte/\\p{L}+$',
    '[(*+]{2}',
    '^\\w+\\.\\d{4}$',
    '(?<year>20\\d\\d)',
    'colou?r',
    'a+b',
  ])('accepts %s', (pattern) => {
    expect(backtrackingRisk(pattern)).toBeUndefined();
  });
});
