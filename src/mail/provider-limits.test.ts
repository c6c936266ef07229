import { describe, expect, it } from 'vitest';
import { AuthenticationError, ThrottledError } from '../core/errors.js';
import { classifyImapError } from './imap-errors.js';
import { UNNAMED_BACKOFF_MS, untilNextDayMs } from './provider-limits.js';

const ctx = { host: 'outlook.office365.com', user: 'john@example.com' };
const refusal = (props: Record<string, unknown>) => Object.assign(new Error('Command failed'), props);

describe('provider limits in IMAP answers', () => {
  it("Microsoft's throttling answer is a ThrottledError with the suggested wait, at login or later", () => {
    for (const authenticationFailed of [true, undefined]) {
      const out = classifyImapError(
        refusal({
          responseStatus: 'NO',
          responseText: 'Request is throttled. Suggested Backoff Time: 12345 milliseconds',
          authenticationFailed,
        }),
        ctx,
      );
      expect(out).toBeInstanceOf(ThrottledError);
      expect(out).toMatchObject({ code: 'ETHROTTLE', retryAfterMs: 12345 });
    }
  });

  it('a spent daily budget pauses until the next day; [LIMIT] at login stays a short wait', () => {
    for (const props of [
      { responseStatus: 'NO', serverResponseCode: 'LIMIT', responseText: 'Download quota exceeded' },
      {
        responseStatus: 'NO',
        responseText: '[ALERT] Account exceeded command or bandwidth limits. (Failure)',
      },
    ]) {
      const out = classifyImapError(refusal(props), ctx);
      expect(out).toBeInstanceOf(ThrottledError);
      expect((out as ThrottledError).retryAfterMs).toBeLessThanOrEqual(86_400_000);
      expect(out.message).toMatch(/daily limit reached, paused until \d{4}-\d\d-\d\dT00:00:00\.000Z/);
    }
    const login = classifyImapError(
      refusal({
        responseStatus: 'NO',
        serverResponseCode: 'LIMIT',
        responseText: 'Too many sessions',
        authenticationFailed: true,
      }),
      ctx,
    );
    expect(login).not.toBeInstanceOf(ThrottledError);
    expect(login).not.toBeInstanceOf(AuthenticationError);
  });

  it('NO [THROTTLED] is a ThrottledError whose wait is ours to choose, at login or later', () => {
    for (const authenticationFailed of [true, undefined]) {
      const out = classifyImapError(
        refusal({
          responseStatus: 'NO',
          serverResponseCode: 'THROTTLED',
          responseText: 'Slow down',
          authenticationFailed,
        }),
        ctx,
      );
      expect(out).toBeInstanceOf(ThrottledError);
      expect(out).toMatchObject({ retryAfterMs: UNNAMED_BACKOFF_MS, guessedWait: true, dailyLimit: false });
    }
  });

  it('untilNextDayMs counts to midnight UTC', () => {
    expect(untilNextDayMs(new Date('2026-12-05T23:59:59.000Z'))).toBe(1000);
    expect(untilNextDayMs(new Date('2026-12-05T00:00:00.000Z'))).toBe(86_400_000);
  });
});
