/**
 * One measured operation of `bench/queue-monitor.ts`, in a fresh process so its peak RSS is its
 * own: `tsx --expose-gc bench/queue-monitor-op.ts <op> <configDir> <commandDirectory>`. Prints
 * one JSON line with the operation's own time (module loading excluded), its peak live heap and
 * what it found.
 *   noop           load the modules only (the RSS baseline)
 *   sample         sampleQueue: count and bytes per queue (streaming postqueue -j)
 *   list           listQueue: the first page of 50, oldest first
 *   list-filtered  listQueue: a sender filter, newest first, page of 50
 *   naive          reference: the whole postqueue -j output in memory, every record parsed
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { listQueue } from '../src/jobs/queue-monitor/listing.js';
import { sampleQueue } from '../src/jobs/queue-monitor/sample.js';

const [op, configDir, commandDirectory] = process.argv.slice(2) as [string, string, string];
const target = { configDir, commandDirectory };
// Peak RSS also counts garbage V8 has not collected yet; the live heap, sampled right after a
// forced collection every 20 ms (only when run with --expose-gc, which slows the operation, so
// the bench times other runs), shows what the operation holds.
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const heapBase = process.memoryUsage().heapUsed;
let livePeak = 0;
const probe = (): void => {
  if (!gc) return;
  gc();
  livePeak = Math.max(livePeak, process.memoryUsage().heapUsed - heapBase);
};
// Streaming yields to the event loop between chunks, so the timer sees it; the naive reader
// holds everything inside one synchronous step, so it probes at its fullest point itself.
const sampler = gc ? setInterval(probe, 20) : undefined;
const started = process.hrtime.bigint();
let found: unknown;
switch (op) {
  case 'noop':
    break;
  case 'sample':
    found = (await sampleQueue(target, { timeoutMs: 600_000 })).queues.deferred;
    break;
  case 'list': {
    const page = await listQueue(target, { limit: 50 }, { timeoutMs: 600_000 });
    found = { page: page.messages.length, matched: page.matched };
    break;
  }
  case 'list-filtered': {
    const page = await listQueue(
      target,
      { sender: 'sender7', order: 'newest', limit: 50 },
      { timeoutMs: 600_000 },
    );
    found = { page: page.messages.length, matched: page.matched };
    break;
  }
  case 'naive': {
    const { stdout } = await promisify(execFile)(
      path.join(commandDirectory, 'postqueue'),
      ['-c', configDir, '-j'],
      {
        maxBuffer: 1 << 30,
      },
    );
    const all = stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { message_size: number });
    probe();
    found = { count: all.length, bytes: all.reduce((n, m) => n + m.message_size, 0) };
    break;
  }
  default:
    throw new Error(`unknown op ${op}`);
}
const ms = Number(process.hrtime.bigint() - started) / 1e6;
clearInterval(sampler);
console.log(
  JSON.stringify({ op, ms, found, ...(gc ? { liveHeapPeakKb: Math.round(livePeak / 1024) } : {}) }),
);
