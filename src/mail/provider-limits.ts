/**
 * What large providers answer when a client goes too fast or too far, read from the server's
 * words so that the job waits instead of failing:
 * - Microsoft 365 (Exchange Online) refuses a command or a login with `Request is throttled.
 *   Suggested Backoff Time: 60000 milliseconds`: come back after that time;
 * - Gmail's daily IMAP download budget answers `NO [LIMIT]` (RFC 5530) or "Account exceeded
 *   command or bandwidth limits": nothing more until the next day;
 * - `NO [THROTTLED]` (no time given): come back later, after a time of our choosing.
 */
import { ThrottledError } from '../core/errors.js';

const BACKOFF = /Request is throttled\. Suggested Backoff Time: (\d{1,9}) milliseconds/i;
const BANDWIDTH = /bandwidth limit|exceeded (?:command or )?bandwidth/i;

/** The wait the server asks for, in ms, when `text` is a throttling answer; else undefined. */
export function suggestedBackoffMs(text: string): number | undefined {
  const m = BACKOFF.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The wait after a throttling answer that names no time, unless the job configures its own. */
export const UNNAMED_BACKOFF_MS = 300_000;

/** True when a refusal asks to slow down without saying for how long. */
export function isUnnamedThrottle(responseCode: string | undefined): boolean {
  return responseCode?.toUpperCase() === 'THROTTLED';
}

/**
 * True when a refusal says the account's daily budget is spent. `[LIMIT]` counts only outside
 * the login: there RFC 5530 also uses it for "too many sessions now", which passes in minutes.
 */
export function isDailyLimit(responseCode: string | undefined, text: string, atLogin: boolean): boolean {
  return BANDWIDTH.test(text) || (!atLogin && responseCode?.toUpperCase() === 'LIMIT');
}

/** Milliseconds from `now` to the next midnight UTC (when the providers' daily budgets restart). */
export function untilNextDayMs(now = new Date()): number {
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return next - now.getTime();
}

/** `who` (`IMAP john at imap.gmail.com`) has spent its daily budget: wait till the next day. */
export function dailyLimitError(who: string, said: string): ThrottledError {
  // One reading of the clock for both: read twice, a millisecond tick between them showed 00:00:00.001.
  const now = new Date();
  const ms = untilNextDayMs(now);
  const until = new Date(now.getTime() + ms).toISOString();
  return new ThrottledError(`${who}: daily limit reached, paused until ${until}: ${said}`, ms, true);
}
