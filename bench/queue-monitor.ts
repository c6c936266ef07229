/**
 * `npm run bench:queue-monitor`: one queue sample and one listing page with 10,000 deferred
 * messages in a private Postfix (relayhost on a port where nothing listens), time and peak
 * memory. Each operation runs in a fresh process (bench/queue-monitor-op.ts), so its peak RSS
 * is its own; a process that only loads the modules is the baseline. Side by side: `postqueue -j`
 * alone (the floor: Postfix's own listing) and a naive reader that holds the whole listing.
 * Writes bench/results/queue-monitor.md.
 *
 * Knobs (environment): BENCH_QUEUED (10000), BENCH_RUNS (3; the median is reported).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostfix } from '../test/fixtures/postfix.js';
import { killChildren, measure, mib, type Measured } from './measure.js';

const QUEUED = Number(process.env.BENCH_QUEUED ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TSX = path.join(process.cwd(), 'node_modules', '.bin', 'tsx');

interface Row {
  what: string;
  /** Median wall time of the whole process, and of the operation itself (module loading excluded). */
  wallMs: number;
  opMs: number | undefined;
  peakRssKb: number | undefined;
  /** Median peak live heap during the operation (after forced GCs), KiB. */
  liveHeapKb: number | undefined;
  found: string;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Op {
  what: string;
  command: string;
  args: string[];
  /** The op prints a JSON line (queue-monitor-op.ts); postqueue prints the queue. */
  json: boolean;
}

const lastJson = (m: Measured) =>
  JSON.parse(m.stdout.trim().split('\n').pop()!) as { ms: number; found: unknown; liveHeapPeakKb?: number };

/**
 * Runs every op `RUNS` times, round-robin (so a busy moment hits all alike), and once more per
 * round with --expose-gc for the live heap (forced collections slow it: not timed); medians.
 */
async function measureRoundRobin(ops: Op[]): Promise<Row[]> {
  const runs = new Map<string, Measured[]>(ops.map((o) => [o.what, []]));
  const heaps = new Map<string, number[]>(ops.map((o) => [o.what, []]));
  const once = async (o: Op, args: string[]) => {
    const m = await measure(o.command, args, { timeoutMs: 600_000 });
    if (m.code !== 0) throw new Error(`${o.what} failed (${m.code}): ${m.stderr.slice(-2000)}`);
    return m;
  };
  for (let i = 0; i < RUNS; i++) {
    for (const o of ops) {
      runs.get(o.what)!.push(await once(o, o.args));
      if (o.json)
        heaps.get(o.what)!.push(lastJson(await once(o, ['--expose-gc', ...o.args])).liveHeapPeakKb ?? 0);
    }
  }
  return ops.map((o) => {
    const list = runs.get(o.what)!;
    const parsed = o.json ? list.map(lastJson) : [];
    return {
      what: o.what,
      wallMs: median(list.map((r) => r.wallMs)),
      opMs: parsed.length ? median(parsed.map((p) => p.ms)) : undefined,
      peakRssKb: median(list.map((r) => r.peakRssKb ?? 0)) || undefined,
      liveHeapKb: o.json ? median(heaps.get(o.what)!) : undefined,
      found: parsed[0] ? JSON.stringify(parsed[0].found ?? '') : '–',
    };
  });
}

function report(rows: Row[], baseline: Row, injectMs: number): string {
  const kb = (n: number | undefined) => (n === undefined ? '–' : n < 1024 ? `${n} KiB` : mib(n));
  const cpu = `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}`;
  return [
    `# queue-monitor with ${QUEUED} deferred messages`,
    '',
    `${cpu}, Node ${process.version}, load ${os.loadavg()[0]!.toFixed(1)}; median of ${RUNS} runs, round-robin. ` +
      `Queued in ${(injectMs / 1000).toFixed(1)} s over SMTP. Each operation runs in a fresh process: ` +
      `"call" times the call itself, "process" includes starting Node and tsx. Peak RSS is the ` +
      `process's (GNU time %M or VmHWM; ${mib(baseline.peakRssKb)} only to load the modules); ` +
      '"live heap" is the peak heap held by the operation, sampled after forced GCs in separate runs.',
    '',
    '| operation | call | process | peak RSS | live heap | result |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
    ...rows
      .map((r) =>
        [
          r.what,
          r.opMs === undefined ? '–' : `${r.opMs.toFixed(0)} ms`,
          `${r.wallMs.toFixed(0)} ms`,
          mib(r.peakRssKb),
          kb(r.liveHeapKb),
          r.found === '–' ? '–' : `\`${r.found}\``,
        ].join(' | '),
      )
      .map((line) => `| ${line} |`),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const postfix = await startPostfix();
  try {
    const started = Date.now();
    await postfix.inject(QUEUED, (i) => ({
      from: `sender${i % 100}@example.org`,
      to: [`rcpt${i}@example.net`],
      data: `Subject: bench ${i}\r\nMessage-ID: <bench-${i}@example.org>\r\n\r\n${'queued message body\r\n'.repeat(20)}`,
    }));
    const injectMs = Date.now() - started;
    await postfix.waitForQueue(
      (q) => q.length === QUEUED && q.every((m) => m.queue_name === 'deferred'),
      600_000,
    );
    const op = (what: string, name: string): Op => ({
      what,
      command: TSX,
      args: [path.join('bench', 'queue-monitor-op.ts'), name, postfix.configDir, postfix.commandDirectory],
      json: true,
    });
    const rows = await measureRoundRobin([
      {
        what: "postqueue -j alone (Postfix's own listing)",
        command: path.join(postfix.commandDirectory, 'postqueue'),
        args: ['-c', postfix.configDir, '-j'],
        json: false,
      },
      op('sample (count + bytes per queue)', 'sample'),
      op('listing: first page of 50, oldest first', 'list'),
      op('listing: sender filter, newest first, 50', 'list-filtered'),
      op('naive: whole listing in memory (reference)', 'naive'),
      op('modules only (baseline)', 'noop'),
    ]);
    const baseline = rows.at(-1)!;
    const md = report(rows, baseline, injectMs);
    mkdirSync(path.join('bench', 'results'), { recursive: true });
    writeFileSync(path.join('bench', 'results', 'queue-monitor.md'), md);
    console.log(md);
  } finally {
    await postfix.stop();
  }
}

process.once('SIGINT', () => {
  killChildren();
  process.exit(130);
});
await main();
