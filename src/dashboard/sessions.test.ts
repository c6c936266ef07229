import { describe, expect, it } from 'vitest';
import { randomToken, tokensEqual } from './sessions.js';

describe('CSRF and session tokens', () => {
  it('are 32 random bytes, base64url', () => {
    const a = randomToken();
    expect(a).toMatch(/^[\w-]{43}$/);
    expect(randomToken()).not.toBe(a);
  });

  it('compare equal only when identical, and never when one is missing', () => {
    const t = randomToken();
    expect(tokensEqual(t, `${t}`)).toBe(true);
    expect(tokensEqual(t, randomToken())).toBe(false);
    expect(tokensEqual(t, t.slice(1))).toBe(false);
    expect(tokensEqual(undefined, t)).toBe(false);
    expect(tokensEqual(t, undefined)).toBe(false);
    expect(tokensEqual('', '')).toBe(false);
  });
});
