import { describe, expect, it } from 'vitest';
import { REDACTED, redact } from './redact.js';

const sealed = `mjs1.${'A'.repeat(60)}`;

describe('redact', () => {
  it('replaces sealed values and secret-named keys at any depth, and nothing else', () => {
    const job = {
      adhoc: {
        localUser: 'john',
        remote: { host: 'imap.example.org', username: 'john', password: sealed },
        admin: { user: 'root', password: sealed },
      },
      list: [{ note: sealed }, 'plain'],
      apiToken: 'abc',
      passwordHash: 'scrypt$...',
      clientSecret: 'x',
      dryRun: false,
      count: 3,
      tokens: null,
    };
    expect(redact(job)).toEqual({
      adhoc: {
        localUser: 'john',
        remote: { host: 'imap.example.org', username: 'john', password: REDACTED },
        admin: { user: 'root', password: REDACTED },
      },
      list: [{ note: REDACTED }, 'plain'],
      apiToken: REDACTED,
      passwordHash: REDACTED,
      clientSecret: REDACTED,
      dryRun: false,
      count: 3,
      tokens: null,
    });
  });

  it('leaves look-alike keys alone (bypass, passes)', () => {
    expect(redact({ bypass: 1, passes: 2, delivered: 3 })).toEqual({ bypass: 1, passes: 2, delivered: 3 });
  });

  it('does not change its input', () => {
    const data = { password: 'x' };
    redact(data);
    expect(data.password).toBe('x');
  });

  it('passes scalars through', () => {
    expect(redact(5)).toBe(5);
    expect(redact('text')).toBe('text');
    expect(redact(sealed)).toBe(REDACTED);
    // values sealed for their login, and those of older versions still in the job history
    expect(redact(`mjs2.${'B'.repeat(60)}`)).toBe(REDACTED);
    expect(redact(undefined)).toBe(undefined);
  });
});
