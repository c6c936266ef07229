/**
 * A strict reader of the Prometheus text format (0.0.4), for tests: it throws on what a
 * Prometheus server would refuse (a malformed line, a second HELP or TYPE of a family, a
 * family whose samples are not together) and returns the samples.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`);
const LABEL = /^ *([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)" *(?:,|$)/;
const SUFFIXES: Record<string, string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count', ''],
};

function labelsOf(text: string, line: string): Record<string, string> {
  const out: Record<string, string> = {};
  let rest = text;
  while (rest.length > 0) {
    const m = LABEL.exec(rest);
    if (!m) throw new Error(`malformed labels in: ${line}`);
    out[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
    rest = rest.slice(m[0].length);
  }
  return out;
}

export function parsePrometheus(text: string): Sample[] {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const done = new Set<string>();
  let current: string | undefined;
  const samples: Sample[] = [];
  const familyOf = (name: string) => {
    for (const [family, type] of types)
      if ((SUFFIXES[type] ?? ['']).some((s) => name === family + s)) return family;
    return name;
  };
  const enter = (family: string, line: string) => {
    if (family === current) return;
    if (done.has(family)) throw new Error(`family ${family} is split: ${line}`);
    if (current) done.add(current);
    current = family;
  };
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, family, rest] = meta as unknown as [string, string, string, string];
      enter(family, line);
      if (kind === 'TYPE') {
        if (types.has(family)) throw new Error(`second TYPE for ${family}`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest))
          throw new Error(`unknown type: ${line}`);
        types.set(family, rest);
      } else {
        if (helps.has(family)) throw new Error(`second HELP for ${family}`);
        helps.add(family);
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`malformed sample: ${line}`);
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    if (Number.isNaN(value) && m[3] !== 'NaN') throw new Error(`malformed value: ${line}`);
    enter(familyOf(m[1]!), line);
    samples.push({ name: m[1]!, labels: labelsOf(m[2] ?? '', line), value });
  }
  return samples;
}

/** The value of the one sample named `name` whose labels include `labels`, else undefined. */
export function valueOf(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}
