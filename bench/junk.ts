/**
 * `npm run bench:junk`: the Junk jobs on 127.0.0.1 only, with private Redis, Rspamd and
 * Dovecot. Sections: the cost of one Junk move to the user (each bayes-learn producer, process
 * start-up included), learn throughput against Rspamd, and spam-expunge over many users.
 * Writes bench/results/junk.md. Needs `npm run build` (the Node producers run from dist/).
 *
 * Knobs (environment): BENCH_DIST (dist), BENCH_PIPE_CALLS (30), BENCH_LEARN (300),
 * BENCH_USERS (1000), BENCH_JUNK_PER_USER (10), BENCH_ONLY (pipe,learn,expunge: all three).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { startDovecot } from '../test/fixtures/dovecot.js';
import { startRedis } from '../test/fixtures/redis.js';
import { startRspamd } from '../test/fixtures/rspamd.js';
import { benchExpunge, populate, type ExpungeRow } from './junk-expunge.js';
import { benchDirect, benchWorker, spamMessage, type LearnRow } from './junk-learn.js';
import { benchPipe, type PipeRow } from './junk-pipe.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const DIST = process.env.BENCH_DIST ?? 'dist';
const CALLS = env('BENCH_PIPE_CALLS', 30);
const LEARN = env('BENCH_LEARN', 300);
const USERS = env('BENCH_USERS', 1000);
const PER_USER = env('BENCH_JUNK_PER_USER', 10);
const ONLY = new Set((process.env.BENCH_ONLY ?? 'pipe,learn,expunge').split(','));

function table(head: string[], rows: (string | number)[][]): string {
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

const log = (line: string) => process.stderr.write(`[bench:junk] ${line}\n`);

const queues = await startRedis();
const bayes = await startRedis();
let pipe: PipeRow[] = [];
const learnRows: LearnRow[] = [];
const expungeRows: ExpungeRow[] = [];
try {
  if (ONLY.has('pipe')) {
    log(`pipe producers, ${CALLS} calls each`);
    const message = Buffer.concat(Array.from({ length: 4 }, spamMessage));
    pipe = await benchPipe({ dist: DIST, redisUrl: queues.url, calls: CALLS, message });
  }
  if (ONLY.has('learn')) {
    const rspamd = await startRspamd({ redisUrl: bayes.url });
    try {
      log(`learn throughput, ${LEARN} messages per row`);
      learnRows.push(await benchDirect(rspamd, LEARN));
      for (const c of [1, 4, 8]) learnRows.push(await benchWorker(rspamd, queues.url, LEARN, c));
    } finally {
      await rspamd.stop();
    }
  }
  if (ONLY.has('expunge')) {
    const fx = await startDovecot();
    try {
      log(`spam-expunge: ${USERS} users x ${PER_USER} Junk messages`);
      await populate(fx, USERS, PER_USER);
      expungeRows.push(
        await benchExpunge(fx, queues.url, USERS, 8, 'first run (half of Junk is 30 days old)'),
      );
      expungeRows.push(await benchExpunge(fx, queues.url, USERS, 8, 'daily run, nothing to expunge'));
      expungeRows.push(await benchExpunge(fx, queues.url, USERS, 32, 'daily run, nothing to expunge'));
    } finally {
      await fx.stop();
    }
  }
} finally {
  await Promise.allSettled([queues.stop(), bayes.stop()]);
}

const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GB, Node ${process.version}`;
const report = [
  '# Junk jobs benchmark',
  '',
  `${machine}; ${new Date().toISOString().slice(0, 10)}.`,
  '',
  '## One Junk move: time per call, process start-up included (~4 KB message)',
  '',
  table(
    ['program', 'median ms', 'p95 ms', 'calls'],
    pipe.map((r) => [r.program, r.medianMs, r.p95Ms, r.calls]),
  ),
  '',
  '## Learn throughput against Rspamd',
  '',
  table(
    ['how', 'messages', 'seconds', 'messages/s'],
    learnRows.map((r) => [r.how, r.messages, r.seconds.toFixed(1), r.perSecond.toFixed(1)]),
  ),
  '',
  '## spam-expunge',
  '',
  table(
    ['run', 'users', 'concurrency', 'expunged', 'seconds'],
    expungeRows.map((r) => [r.run, r.users, r.concurrency, r.expunged, r.seconds.toFixed(1)]),
  ),
  '',
].join('\n');
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/junk.md', report);
process.stdout.write(report);
