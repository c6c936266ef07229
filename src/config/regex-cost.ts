/**
 * A bound on what a folder pattern may cost. Patterns run in JavaScript's backtracking engine
 * against folder names the remote server chooses, so a pattern whose matching time grows
 * exponentially or as a high power of the name's length would let a server stall the worker.
 * Refused, before anything runs:
 * - a repeated group holding a quantifier or an alternation: `(a+)+`, `(.*)*`, `(a|a)*`
 *   (exponential);
 * - more than two variable repeats (`*`, `+`, `{n,}`, `{n,m}`) counting the free start of an
 *   unanchored pattern as one: `.*a.*b` unanchored tries every split of the name at every start;
 *   anchor it with `^` (`^.*a.*b`) or drop a repeat;
 * - more than eight optional parts (`a?`), which double the paths each.
 * What passes costs at most about the square of the name's length; names are matched only up
 * to {@link MAX_MATCHED_NAME} characters (src/jobs/imapsync/folder-map.ts).
 */

/** The longest folder path a pattern is tried on (a longer one is left out, never matched). */
export const MAX_MATCHED_NAME = 1000;
const MAX_PATTERN = 300;
const MAX_REPEATS = 2;
const MAX_OPTIONALS = 8;

interface Group {
  quantified: boolean;
  alternation: boolean;
}

/** Reads the quantifier at `i` (if any): its end, and its least and greatest count. */
function quantifierAt(src: string, i: number): { end: number; min: number; max: number } | undefined {
  const c = src[i];
  let q: { end: number; min: number; max: number } | undefined;
  if (c === '*') q = { end: i + 1, min: 0, max: Infinity };
  else if (c === '+') q = { end: i + 1, min: 1, max: Infinity };
  else if (c === '?') q = { end: i + 1, min: 0, max: 1 };
  else if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(src.slice(i));
    if (!m) return undefined;
    const min = Number(m[1]);
    q = { end: i + m[0].length, min, max: m[2] === undefined ? min : m[3] ? Number(m[3]) : Infinity };
  }
  if (q && src[q.end] === '?') q.end++; // lazy: the same paths, in another order
  return q;
}

/** The end of the atom that starts at `i` when it is an escape or a class, else i + 1. */
function atomEnd(src: string, i: number): number {
  if (src[i] === '\\') {
    const braced = /^\\[pPu]\{[^}]*\}|^\\k<[^>]*>/.exec(src.slice(i));
    return i + (braced ? braced[0].length : 2);
  }
  if (src[i] === '[') {
    let j = i + 1;
    while (j < src.length && src[j] !== ']') j += src[j] === '\\' ? 2 : 1;
    return j + 1;
  }
  return i + 1;
}

/**
 * Why `source` (a pattern that compiles with the `u` flag) may backtrack catastrophically, or
 * undefined when its cost is bounded.
 */
export function backtrackingRisk(source: string): string | undefined {
  if (source.length > MAX_PATTERN) return `longer than ${MAX_PATTERN} characters`;
  const stack: Group[] = [{ quantified: false, alternation: false }];
  let repeats = 0;
  let optionals = 0;
  let lastGroup: Group | undefined;
  let topAlternation = false;
  for (let i = 0; i < source.length;) {
    const c = source[i]!;
    const top = stack[stack.length - 1]!;
    let atomGroup: Group | undefined;
    if (c === '(') {
      stack.push({ quantified: false, alternation: false });
      const prefix = /^\(\?(?::|=|!|<=|<!|<[^>]*>)?/.exec(source.slice(i));
      i += prefix ? prefix[0].length : 1;
      continue;
    }
    if (c === '|') {
      top.alternation = true;
      topAlternation ||= stack.length === 1;
      i++;
      continue;
    }
    if (c === ')') {
      atomGroup = stack.pop()!;
      const parent = stack[stack.length - 1]!;
      parent.quantified ||= atomGroup.quantified;
      parent.alternation ||= atomGroup.alternation;
      i++;
    } else {
      i = atomEnd(source, i);
    }
    lastGroup = atomGroup;
    const q = quantifierAt(source, i);
    if (!q) continue;
    i = q.end;
    const current = stack[stack.length - 1]!;
    if (lastGroup && q.max > 1 && (lastGroup.quantified || lastGroup.alternation)) {
      return 'a repeated group holds a quantifier or an alternation ("(a+)+", "(a|b)*"): it can backtrack exponentially';
    }
    current.quantified = true;
    if (q.max === 1) optionals++;
    else if (q.max !== q.min) repeats++;
  }
  const anchored = source.startsWith('^') && !topAlternation;
  if (repeats + (anchored ? 0 : 1) > MAX_REPEATS) {
    return `${repeats} repeats in ${anchored ? 'a' : 'an unanchored'} pattern can backtrack for a long time: anchor it with "^" or use fewer "*", "+", "{n,m}"`;
  }
  if (optionals > MAX_OPTIONALS) return `more than ${MAX_OPTIONALS} optional parts ("?")`;
  return undefined;
}
