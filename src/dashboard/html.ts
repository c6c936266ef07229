/**
 * `html\`...\``: a template tag that escapes every interpolated value, so page code cannot
 * forget to. A value already built by `html` (or marked with `raw`) goes in as it is.
 */
const SAFE = Symbol('safe-html');

export interface SafeHtml {
  readonly [SAFE]: true;
  toString(): string;
}

function safe(text: string): SafeHtml {
  return { [SAFE]: true, toString: () => text };
}

function isSafe(v: unknown): v is SafeHtml {
  return typeof v === 'object' && v !== null && SAFE in v;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function piece(v: unknown): string {
  if (v === undefined || v === null || v === false) return '';
  if (Array.isArray(v)) return v.map(piece).join('');
  if (isSafe(v)) return v.toString();
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((v, i) => (out += piece(v) + strings[i + 1]!));
  return safe(out);
}

/** Trusted markup (never user or remote data). */
export function raw(text: string): SafeHtml {
  return safe(text);
}
