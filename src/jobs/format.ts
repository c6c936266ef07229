/** Short human phrases for `status` rows: "5 s ago", "3 h ago", "12 KB". */

/** How long ago `ms` (epoch ms) was; `never` when unknown. */
export function ago(ms: number | undefined, now = Date.now()): string {
  if (ms === undefined) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172_800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} days ago`;
}

/** Bytes as kilobytes (the unit of the Queue page's chart), rounded up so 1 byte is not "0 KB". */
export function kilobytes(bytes: number): string {
  return `${Math.ceil(bytes / 1024)} KB`;
}
