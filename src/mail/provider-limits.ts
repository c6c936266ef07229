/**
 * What large providers answer when a client goes too fast, read from the server's words so
 * that the job waits instead of failing. Microsoft 365 (Exchange Online) refuses a command or
 * a login with `Request is throttled. Suggested Backoff Time: 60000 milliseconds`.
 */

const BACKOFF = /Request is throttled\. Suggested Backoff Time: (\d{1,9}) milliseconds/i;

/** The wait the server asks for, in ms, when `text` is a throttling answer; else undefined. */
export function suggestedBackoffMs(text: string): number | undefined {
  const m = BACKOFF.exec(text);
  return m ? Number(m[1]) : undefined;
}
