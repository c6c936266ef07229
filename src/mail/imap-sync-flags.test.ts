import { describe, expect, it } from 'vitest';
import { sameFlags, storableFlags } from './imap-sync-flags.js';

describe('flags carried over', () => {
  const dovecot = new Set(['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft', '\\*']);

  it('drops \\Recent and unknown system flags, keeps keywords where \\* allows them', () => {
    expect(storableFlags(['\\Recent', '\\Seen', '$Label1', '\\Unknown'], dovecot)).toEqual([
      '$Label1',
      '\\Seen',
    ]);
  });

  it('keeps only listed keywords when the destination does not allow new ones', () => {
    const strict = new Set(['\\Seen', '\\Flagged', 'Work']);
    expect(storableFlags(['\\Seen', 'work', 'Other', '\\Answered'], strict)).toEqual(['\\Seen', 'work']);
  });

  it('passes everything but \\Recent when the server did not say', () => {
    expect(storableFlags(['\\Recent', '\\Draft', 'X'], new Set())).toEqual(['X', '\\Draft']);
  });

  it('compares case- and order-insensitively', () => {
    expect(sameFlags(['\\Seen', 'Work'], ['work', '\\SEEN'])).toBe(true);
    expect(sameFlags(['\\Seen'], ['\\Seen', '\\Flagged'])).toBe(false);
  });
});
