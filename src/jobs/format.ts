/** Short human phrases for `status` rows: "5 s ago", "3 min ago (10:42)", "12 KB". */

/** A duration in rounded words: `5 s`, `3 min`, `7 h`, `2 days`. */
function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}

/** How long ago `ms` (epoch ms) was; `never` when unknown. */
export function ago(ms: number | undefined, now = Date.now()): string {
  return ms === undefined ? 'never' : `${span(now - ms)} ago`;
}

/**
 * When `ms` was or will be, relative and on the server's local clock: `3 min ago (10:42)`,
 * `in 5 min (10:50)`, with the date beyond a day: `2 days ago (2026-12-03 10:42)`. `never`
 * when unknown.
 */
export function when(ms: number | undefined, now = Date.now()): string {
  if (ms === undefined) return 'never';
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  const clock = `${two(d.getHours())}:${two(d.getMinutes())}`;
  const day = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
  const relative = ms > now ? `in ${span(ms - now)}` : ago(ms, now);
  return `${relative} (${Math.abs(now - ms) < 86_400_000 ? clock : `${day} ${clock}`})`;
}

/** Bytes as kilobytes (the unit of the Queue page's chart), rounded up so 1 byte is not "0 KB". */
export function kilobytes(bytes: number): string {
  return `${Math.ceil(bytes / 1024)} KB`;
}
