/**
 * Reads a V8 `.cpuprofile` (from `node --cpu-prof`) and says where the time went: self time
 * per function and per source file, idle time (waiting on I/O) apart. Used with
 * `BENCH_PROFILE=1` to explain a slow mailjobs run without touching its code.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time in ms, per function and per file, biggest first. */
export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  gcMs: number;
  functions: Array<{ name: string; ms: number }>;
  files: Array<{ file: string; ms: number }>;
}

/** `/work/main/node_modules/pino/lib/x.js` → `pino/lib/x.js`; `.../dist/mail/lmtp.js` → `dist/mail/lmtp.js`. */
function shortUrl(url: string): string {
  if (!url) return '(native)';
  return url
    .replace(/^file:\/\//, '')
    .replace(/.*\/node_modules\//, '')
    .replace(/.*\/(dist\/)/, '$1');
}

function top(map: Map<string, number>, n: number): Array<[string, number]> {
  return [...map].sort((a, b) => b[1] - a[1]).slice(0, n);
}

/** Summarises one profile file. */
export function summarizeProfile(file: string, n = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const functions = new Map<string, number>();
  const files = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  let gcUs = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const frame = byId.get(id)?.callFrame;
    totalUs += us;
    if (!frame) return;
    if (frame.functionName === '(idle)') return void (idleUs += us);
    if (frame.functionName === '(garbage collector)') gcUs += us;
    const url = shortUrl(frame.url);
    const name = `${frame.functionName || '(anonymous)'} ${url}:${frame.lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
    files.set(url, (files.get(url) ?? 0) + us);
  });
  return {
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    gcMs: gcUs / 1000,
    functions: top(functions, n).map(([name, us]) => ({ name, ms: us / 1000 })),
    files: top(files, n).map(([f, us]) => ({ file: f, ms: us / 1000 })),
  };
}

/** The summary as Markdown lines. */
export function profileMarkdown(s: ProfileSummary): string[] {
  const busy = s.totalMs - s.idleMs;
  return [
    `CPU profile: ${(s.totalMs / 1000).toFixed(1)} s sampled, ${(s.idleMs / 1000).toFixed(1)} s idle ` +
      `(waiting on sockets/disk), ${(busy / 1000).toFixed(1)} s on CPU (GC ${(s.gcMs / 1000).toFixed(1)} s).`,
    '',
    '| self ms | file |',
    '| ---: | --- |',
    ...s.files.map((f) => `| ${f.ms.toFixed(0)} | \`${f.file}\` |`),
    '',
    '| self ms | function |',
    '| ---: | --- |',
    ...s.functions.map((f) => `| ${f.ms.toFixed(0)} | \`${f.name}\` |`),
  ];
}
