/**
 * `npm run bench:fleet`: a fleet of `mailjobs worker` processes against one Redis, on 127.0.0.1
 * (plain processes, not network namespaces: the fixtures listen on 127.0.0.1 only). A private
 * "remote" Dovecot serves POP3 for many small accounts, a private "local" Dovecot takes LMTP.
 * For 1, 2 and 4 workers in turn (a fresh prefix each: every account is fetched again), every
 * connector is enqueued at once and the bench waits until all are finished. It reports
 * throughput (messages/s), Redis commands per fetched message (INFO commandstats delta),
 * connections and idle commands per worker, peak RSS per worker, and Redis memory per
 * connector once the scheduler has set up every connector's schedule. docs/scale-out.md builds
 * its estimate on these figures. Writes bench/results/fleet.md.
 *
 * Knobs (environment): BENCH_FLEET_CONNECTORS (2000), BENCH_FLEET_MESSAGES (5 per connector),
 * BENCH_FLEET_WORKERS (`1,2,4`), BENCH_FLEET_CONCURRENCY (16: getmail jobs per worker at once),
 * BENCH_SEED (1729).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Queue } from 'bullmq';
import type { RedisClient } from '../src/core/redis.js';
import { createClient } from '../src/client/index.js';
import { openQueue } from '../src/core/queues.js';
import { connectRedis, stateKey } from '../src/core/redis.js';
import { startDovecot, type DovecotFixture } from '../test/fixtures/dovecot.js';
import { startRedis } from '../test/fixtures/redis.js';
import { loadMaildir, makeSmallCorpus } from './corpus.js';
import { inBatches, mailboxCounts } from './many-accounts.js';
import { killChildren, mib, startLongRunning, vmHwmKb, type LongRunning } from './measure.js';
import { sourceRevision } from './report.js';
import { buildMailjobs, CLI, ROOT, toolDir, writeMailjobsConfig, type BenchConnector } from './tools.js';

const envInt = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, not ${process.env[name]}`);
  return value;
};
const CONNECTORS = envInt('BENCH_FLEET_CONNECTORS', 2000);
const MESSAGES_EACH = envInt('BENCH_FLEET_MESSAGES', 5);
const CONCURRENCY = envInt('BENCH_FLEET_CONCURRENCY', 16);
const SEED = envInt('BENCH_SEED', 1729);
const FLEET = (process.env.BENCH_FLEET_WORKERS ?? '1,2,4').split(',').map((n) => {
  const k = Number(n);
  if (!Number.isInteger(k) || k < 1) throw new Error(`BENCH_FLEET_WORKERS: not a worker count: ${n}`);
  return k;
});
const RESULTS = path.join(ROOT, 'bench/results');
/** How long idle workers are watched for their background commands (BZPOPMIN, stalled checks). */
const IDLE_WINDOW_MS = 15_000;

/** One line of INFO as a number. */
async function infoField(redis: RedisClient, section: string, field: string): Promise<number> {
  const m = new RegExp(`^${field}:(\\d+)`, 'm').exec(await redis.info(section));
  return m ? Number(m[1]) : NaN;
}

/** Calls per command so far (INFO commandstats), without INFO itself. */
async function commandCalls(redis: RedisClient): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
    if (m[1] !== 'info') calls.set(m[1]!, Number(m[2]));
  return calls;
}

function callsSince(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [cmd, n] of after)
    if (n - (before.get(cmd) ?? 0) > 0) delta.set(cmd, n - (before.get(cmd) ?? 0));
  return delta;
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/** Every job enqueued so far has finished (BullMQ keeps only the last 1,000 completed jobs). */
async function untilFinished(queue: Queue): Promise<void> {
  for (;;) {
    const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    if (Object.values(c).every((n) => n === 0)) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Runs that ended, by outcome, from the run counters of /metrics (both passes). */
async function runCounts(redis: RedisClient, prefix: string): Promise<{ completed: number; failed: number }> {
  const d = await redis.hgetall(stateKey(prefix, 'metrics', 'durations'));
  return {
    completed: Number(d['getmail|success|count'] ?? 0),
    failed: Number(d['getmail|failure|count'] ?? 0),
  };
}

interface Round {
  workers: number;
  wallMs: number;
  messages: number;
  completed: number;
  failed: number;
  commands: number;
  topCommands: [string, number][];
  connectionsPerWorker: number;
  idleCommandsPerWorkerPerSecond: number;
  /** Commands of the idle window, by name. */
  topIdle: [string, number][];
  rssKb: (number | undefined)[];
  usedMemoryDelta: number;
  /** The second pass (no new mail): its wall time and Redis commands. */
  pollWallMs: number;
  pollCommands: number;
}

async function round(
  k: number,
  env: { redis: RedisClient; redisUrl: string; remote: DovecotFixture; local: DovecotFixture },
  remoteAccounts: readonly BenchConnector[],
): Promise<Round> {
  const prefix = `fleet${randomBytes(3).toString('hex')}`;
  // Local mailboxes of this round only: getmail would find the mail of an earlier round there and
  // rebuild its state from it instead of fetching again.
  const connectors = remoteAccounts.map((c) => ({ ...c, localUser: `${c.localUser}-${k}w` }));
  await inBatches(connectors, 50, (c) => env.local.addUser(c.localUser));
  const config = writeMailjobsConfig(toolDir(`fleet-${k}`), {
    redisUrl: env.redisUrl,
    prefix,
    remote: env.remote,
    local: env.local,
    connectors,
    concurrency: CONCURRENCY,
  });
  console.error(`[bench] fleet: ${k} worker(s), ${connectors.length} connectors × ${MESSAGES_EACH} messages`);
  const clientsBefore = await infoField(env.redis, 'clients', 'connected_clients');
  const workers: LongRunning[] = [];
  const client = createClient({ redis: env.redisUrl, prefix });
  let queue: Queue | undefined;
  try {
    for (let i = 0; i < k; i++)
      workers.push(
        startLongRunning(process.execPath, [CLI, 'worker', '--config', config], {
          ...process.env,
          MAILJOBS_LOG_PRETTY: '0',
        }),
      );
    await Promise.all(workers.map((w) => w.waitForLine(/"msg":"mailjobs running"/, 120_000)));
    // Counted before the bench's own queue and client connect.
    const clientsAfter = await infoField(env.redis, 'clients', 'connected_clients');
    queue = openQueue('getmail', env.redisUrl, prefix);
    const idleBefore = await commandCalls(env.redis);
    await new Promise((r) => setTimeout(r, IDLE_WINDOW_MS));
    const idleCalls = callsSince(idleBefore, await commandCalls(env.redis));
    const idle = total(idleCalls);

    const delivered = async () => {
      const counts = await mailboxCounts(env.local);
      return connectors.reduce((sum, c) => sum + (counts.get(c.localUser) ?? 0), 0);
    };
    const deliveredBefore = await delivered();
    const memoryBefore = await infoField(env.redis, 'memory', 'used_memory');
    const before = await commandCalls(env.redis);
    const started = process.hrtime.bigint();
    await inBatches(connectors, 200, (c) => client.enqueue('getmail', { account: c.id }));
    await untilFinished(queue);
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    const delta = callsSince(before, await commandCalls(env.redis));
    const usedMemoryDelta = (await infoField(env.redis, 'memory', 'used_memory')) - memoryBefore;
    const messages = (await delivered()) - deliveredBefore;

    // Every connector once more: no new mail, the steady state of a polling fleet.
    const pollBefore = await commandCalls(env.redis);
    const pollStarted = process.hrtime.bigint();
    await inBatches(connectors, 200, (c) => client.enqueue('getmail', { account: c.id }));
    await untilFinished(queue);
    const pollWallMs = Number(process.hrtime.bigint() - pollStarted) / 1e6;
    const pollCommands = total(callsSince(pollBefore, await commandCalls(env.redis)));
    const rssKb = workers.map((w) => vmHwmKb(w.child.pid!));
    return {
      workers: k,
      wallMs,
      messages,
      ...(await runCounts(env.redis, prefix)),
      commands: total(delta),
      topCommands: [...delta].sort((a, b) => b[1] - a[1]).slice(0, 8),
      connectionsPerWorker: (clientsAfter - clientsBefore) / k,
      idleCommandsPerWorkerPerSecond: idle / (IDLE_WINDOW_MS / 1000) / k,
      topIdle: [...idleCalls].sort((a, b) => b[1] - a[1]).slice(0, 6),
      rssKb,
      usedMemoryDelta,
      pollWallMs,
      pollCommands,
    };
  } finally {
    await Promise.allSettled([...workers.map((w) => w.stop()), client.close(), queue?.close()]);
  }
}

/** Redis memory taken by every connector's schedule (`mailjobs scheduler` once, no worker). */
async function scheduleMemory(
  env: { redis: RedisClient; redisUrl: string; remote: DovecotFixture; local: DovecotFixture },
  connectors: readonly BenchConnector[],
): Promise<{ bytes: number; keys: number }> {
  const prefix = `fleets${randomBytes(3).toString('hex')}`;
  const config = writeMailjobsConfig(toolDir('fleet-scheduler'), {
    redisUrl: env.redisUrl,
    prefix,
    remote: env.remote,
    local: env.local,
    connectors,
  });
  const keysBefore = await env.redis.dbsize();
  const memoryBefore = await infoField(env.redis, 'memory', 'used_memory');
  const scheduler = startLongRunning(process.execPath, [CLI, 'scheduler', '--config', config], {
    ...process.env,
    MAILJOBS_LOG_PRETTY: '0',
  });
  try {
    await scheduler.waitForLine(/"msg":"mailjobs running"/, 600_000);
  } finally {
    await scheduler.stop();
  }
  return {
    bytes: (await infoField(env.redis, 'memory', 'used_memory')) - memoryBefore,
    keys: (await env.redis.dbsize()) - keysBefore,
  };
}

function report(
  rounds: Round[],
  schedule: { bytes: number; keys: number } | undefined,
  revision: string,
): string {
  const one = rounds.find((r) => r.workers === 1);
  const lines = [
    '# Fleet bench: several worker processes, one Redis',
    '',
    `${CONNECTORS} getmail connectors (POP3) × ${MESSAGES_EACH} small messages, all enqueued at once; ` +
      `getmail concurrency ${CONCURRENCY} per worker; plain processes on one machine ` +
      `(${os.cpus().length} CPUs, load average ${os.loadavg()[0]!.toFixed(1)} at the end), source ${revision}.`,
    '',
    '| workers | wall | messages | msg/s | vs 1 worker | Redis commands / message | connections / worker | idle commands/s / worker | peak RSS / worker | failed runs |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rounds) {
    const rate = r.messages / (r.wallMs / 1000);
    const base = one ? one.messages / (one.wallMs / 1000) : undefined;
    lines.push(
      `| ${r.workers} | ${(r.wallMs / 1000).toFixed(1)} s | ${r.messages} | ${rate.toFixed(1)} | ` +
        `${base ? `${(rate / base).toFixed(2)}×` : 'n/a'} | ${(r.commands / Math.max(1, r.messages)).toFixed(1)} | ` +
        `${r.connectionsPerWorker.toFixed(1)} | ${r.idleCommandsPerWorkerPerSecond.toFixed(2)} | ` +
        `${r.rssKb.map(mib).join(', ')} | ${r.failed} |`,
    );
  }
  lines.push(
    '',
    'Second pass, every connector polled again with no new mail (the steady state of a polling fleet):',
    '',
    '| workers | wall | runs/s | Redis commands / run |',
    '| --- | --- | --- | --- |',
    ...rounds.map(
      (r) =>
        `| ${r.workers} | ${(r.pollWallMs / 1000).toFixed(1)} s | ${(CONNECTORS / (r.pollWallMs / 1000)).toFixed(1)} | ` +
        `${(r.pollCommands / CONNECTORS).toFixed(1)} |`,
    ),
  );
  lines.push('', 'Commands during the busiest round (first pass), by name (calls):', '');
  const top = rounds.at(-1);
  if (top) lines.push(top.topCommands.map(([c, n]) => `\`${c}\` ${n}`).join(', '));
  if (top)
    lines.push(
      '',
      `Idle workers (${top.workers}) over ${IDLE_WINDOW_MS / 1000} s, by name: ` +
        top.topIdle.map(([c, n]) => `\`${c}\` ${n}`).join(', '),
    );
  if (schedule)
    lines.push(
      '',
      `Schedules: \`mailjobs scheduler\` for the ${CONNECTORS} connectors added ${schedule.keys} keys and ` +
        `${(schedule.bytes / 1024 / 1024).toFixed(1)} MiB of Redis memory ` +
        `(${(schedule.bytes / CONNECTORS).toFixed(0)} bytes per connector: its job scheduler and its queued job).`,
    );
  lines.push(
    '',
    'Redis memory growth per round (jobs kept after completion, run records, ledgers): ' +
      rounds.map((r) => `${r.workers}w ${(r.usedMemoryDelta / 1024 / 1024).toFixed(1)} MiB`).join(', ') +
      '.',
    '',
    "Redis commands include the bench's own enqueues (one per connector, as the scheduler does) and its " +
      'progress poll (one `getJobCounts` per second).',
  );
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<number> {
  const revision = await sourceRevision();
  console.error('[bench] building mailjobs into bench/results/dist');
  await buildMailjobs();
  const stops: (() => Promise<void>)[] = [];
  try {
    const fx = await startRedis();
    stops.push(() => fx.stop());
    const [remote, local] = await Promise.all([startDovecot(), startDovecot()]);
    stops.push(
      () => remote.stop(),
      () => local.stop(),
    );
    const redis = connectRedis(fx.url);
    stops.push(async () => void (await redis.quit()));
    const connectors: BenchConnector[] = Array.from({ length: CONNECTORS }, (_, i) => ({
      id: `fleet-${i}`,
      remoteUser: `fleet-r${i}`,
      remotePassword: randomBytes(9).toString('hex'),
      localUser: `fleet-l${i}`,
    }));
    console.error(`[bench] fleet: setting up ${CONNECTORS} accounts`);
    await inBatches(connectors, 50, (c) => remote.addUser(c.remoteUser, c.remotePassword));
    await inBatches(connectors, 8, (c) =>
      loadMaildir(remote, c.remoteUser, makeSmallCorpus(MESSAGES_EACH, SEED + Number(c.id.slice(6)))),
    );
    const env = { redis, redisUrl: fx.url, remote, local };
    const rounds: Round[] = [];
    for (const k of FLEET) rounds.push(await round(k, env, connectors));
    const schedule = await scheduleMemory(
      env,
      connectors.map((c) => ({ ...c, localUser: `${c.localUser}-s` })),
    ).catch((err: unknown) => {
      console.error('[bench] schedule memory could not be measured:', err);
      return undefined;
    });
    const text = report(rounds, schedule, revision);
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(path.join(RESULTS, 'fleet.md'), text);
    console.log(text);
    return rounds.every((r) => r.failed === 0 && r.messages === CONNECTORS * MESSAGES_EACH) ? 0 : 1;
  } finally {
    killChildren();
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

process.exitCode = await main();
