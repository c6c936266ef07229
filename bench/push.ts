/**
 * `npm run bench:push`: getmail push (IDLE) against interval polling, on 127.0.0.1 only. A
 * private "remote" Dovecot holds the accounts, a private "local" Dovecot takes LMTP, a private
 * Redis holds mailjobs' state. Sections:
 * - latency: one message APPENDed to the remote INBOX at a time, timed until the local INBOX
 *   has it (STATUS every 10 ms), with push (an in-process worker) and with polling (a fetch
 *   queued every BENCH_POLL_SECONDS, as the scheduler does at `intervalMinutes`; messages
 *   APPENDed at random moments over BENCH_POLL_WINDOW_SECONDS). Median and p99.
 * - memory: the RSS of a `mailjobs worker` process (built with tsc) holding BENCH_WATCH_ACCOUNTS
 *   IDLE sessions, less the same worker with `push: false`, per account.
 *
 * Knobs (environment): BENCH_MESSAGES (200), BENCH_POLL_SECONDS (60), BENCH_POLL_WINDOW_SECONDS
 * (300), BENCH_WATCH_ACCOUNTS (300), BENCH_SECTIONS (latency,memory). Writes bench/results/push.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { enqueueJob } from '../src/client/enqueue.js';
import { loadConfig } from '../src/config/load.js';
import { openQueue } from '../src/core/queues.js';
import { connectRedis, stateKey } from '../src/core/redis.js';
import { getmailJob } from '../src/jobs/getmail/index.js';
import { PushStateStore } from '../src/jobs/getmail/push/state.js';
import { startDovecot, type DovecotFixture } from '../test/fixtures/dovecot.js';
import { startRedis, type RedisFixture } from '../test/fixtures/redis.js';
import { message, writeWorldConfig, type ConnectorSpec, type World } from '../test/getmail/world.js';
import { masterSession } from '../test/helpers/master-session.js';
import { startTestWorkers } from '../test/helpers/runtime.js';
import { killGroup, startLongRunning } from './measure.js';
import { buildMailjobs, CLI, ROOT } from './tools.js';

const envInt = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const MESSAGES = envInt('BENCH_MESSAGES', 200);
const POLL_SECONDS = envInt('BENCH_POLL_SECONDS', 60);
const POLL_WINDOW_SECONDS = envInt('BENCH_POLL_WINDOW_SECONDS', 300);
const WATCH_ACCOUNTS = envInt('BENCH_WATCH_ACCOUNTS', 300);
const SECTIONS = new Set((process.env.BENCH_SECTIONS ?? 'latency,memory').split(','));
const PUSH = 'getmail: { push: { debounceMilliseconds: 200 } }';

/**
 * Dovecot serving many IDLE sessions: one imap process per session (Dovecot's default
 * `client_limit = 1`), so `process_limit` must exceed the accounts; login processes in
 * "performance mode" (`service_count = 0`), each taking many logins.
 */
const manySessions = (accounts: number): string => `default_process_limit = ${accounts + 100}
default_client_limit = ${accounts * 4 + 1000}
service imap {
  process_limit = ${accounts + 50}
}
service imap-login {
  service_count = 0
  process_min_avail = 2
  client_limit = ${accounts + 100}
}`;

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

interface Latency {
  median: number;
  p99: number;
  n: number;
}

function summarize(ms: number[]): Latency {
  const s = [...ms].sort((a, b) => a - b);
  return { median: percentile(s, 50), p99: percentile(s, 99), n: s.length };
}

/** Times from APPEND to local delivery, in order (getmail delivers in UID order). */
async function timeDeliveries(
  remote: DovecotFixture,
  local: DovecotFixture,
  users: { remote: string; local: string },
  appendAt: number[],
): Promise<number[]> {
  const [rc, lc] = [await masterSession(remote, users.remote), await masterSession(local, users.local)];
  const appended: number[] = [];
  const delivered: number[] = [];
  const watch = (async () => {
    while (delivered.length < appendAt.length) {
      const st = await lc.status('INBOX', { messages: true });
      const n = (st && st.messages) || 0;
      while (delivered.length < n) delivered.push(Date.now());
      await sleep(10);
    }
  })();
  const start = Date.now();
  for (const [i, at] of appendAt.entries()) {
    const wait = start + at - Date.now();
    if (wait > 0) await sleep(wait);
    // Sequential runs (at < 0) wait for the previous delivery first.
    if (at < 0) while (delivered.length < i) await sleep(5);
    appended.push(Date.now());
    await rc.append('INBOX', message(`bench-${i}`));
  }
  await watch;
  await Promise.all([rc.logout(), lc.logout()]);
  return delivered.map((t, i) => t - appended[i]!);
}

async function latency(world: World): Promise<{ push: Latency; poll: Latency }> {
  const run = async (name: string, push: boolean) => {
    const remote = await world.remote.addUser(`r-${name}`);
    const local = await world.local.addUser(`l-${name}`);
    const spec: ConnectorSpec = {
      id: `${name}@remote.test`,
      protocol: 'imap',
      security: 'none',
      user: remote.user,
      password: remote.password,
      deliverTo: local.user,
      intervalMinutes: 60,
      push,
    };
    const file = writeWorldConfig(world, [spec], PUSH);
    const config = loadConfig(file, {});
    const redis = connectRedis(world.redis.url);
    const workers = startTestWorkers({ config, redisSettings: { url: world.redis.url }, redis }, [
      getmailJob,
    ]);
    const queue = openQueue('getmail', world.redis.url, config.redis.prefix);
    const poller = push
      ? undefined
      : setInterval(() => {
          void enqueueJob(queue, getmailJob, { account: spec.id }, { redis, prefix: config.redis.prefix });
        }, POLL_SECONDS * 1000);
    try {
      if (push) {
        const states = new PushStateStore(redis, (...p) => stateKey(config.redis.prefix, ...p));
        while ((await states.readAll()).get(spec.id)?.phase !== 'watching') await sleep(50);
      }
      const appendAt = push
        ? Array.from({ length: MESSAGES }, () => -1)
        : Array.from({ length: MESSAGES }, () => Math.random() * POLL_WINDOW_SECONDS * 1000).sort(
            (a, b) => a - b,
          );
      return summarize(
        await timeDeliveries(world.remote, world.local, { remote: remote.user, local: local.user }, appendAt),
      );
    } finally {
      clearInterval(poller);
      await workers.close();
      await queue.close();
      redis.disconnect();
    }
  };
  return { push: await run('lat-push', true), poll: await run('lat-poll', false) };
}

const rssKb = (pid: number): number =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);

async function memory(world: World): Promise<{ baseKb: number; pushKb: number; accounts: number }> {
  const users = await Promise.all(
    Array.from({ length: WATCH_ACCOUNTS }, (_, i) => world.remote.addUser(`mem${i}`)),
  );
  const local = await world.local.addUser('l-mem');
  const specs = (push: boolean): ConnectorSpec[] =>
    users.map((u, i) => ({
      id: `mem${i}@remote.test`,
      protocol: 'imap',
      security: 'none',
      user: u.user,
      password: u.password,
      deliverTo: local.user,
      intervalMinutes: 60,
      push,
    }));
  const measureWorker = async (push: boolean): Promise<number> => {
    const extra = `${PUSH}\nremoteSessionsPerHost: ${WATCH_ACCOUNTS + 10}`;
    const file = writeWorldConfig(world, specs(push), extra);
    const prefix = loadConfig(file, {}).redis.prefix;
    const worker = startLongRunning(process.execPath, [CLI, 'worker', '--config', file], {
      ...process.env,
      MAILJOBS_LOG_LEVEL: 'warn',
    });
    const redis = new Redis(world.redis.url);
    try {
      const states = new PushStateStore(redis, (...p) => stateKey(prefix, ...p));
      await sleep(5000); // the worker's own start-up
      if (push) {
        const deadline = Date.now() + 20 * 60_000;
        for (;;) {
          const all = await states.readAll();
          const watching = [...all.values()].filter((s) => s.phase === 'watching').length;
          if (watching === WATCH_ACCOUNTS) break;
          if (Date.now() > deadline) throw new Error(`only ${watching}/${WATCH_ACCOUNTS} accounts watched`);
          process.stderr.write(`\r${watching}/${WATCH_ACCOUNTS} watching `);
          await sleep(500);
        }
      }
      await sleep(10_000); // settle (timers, GC) before reading RSS
      return rssKb(worker.child.pid!);
    } finally {
      redis.disconnect();
      await worker.stop().catch(() => killGroup(worker.child));
    }
  };
  const baseKb = await measureWorker(false);
  const pushKb = await measureWorker(true);
  return { baseKb, pushKb, accounts: WATCH_ACCOUNTS };
}

async function main(): Promise<void> {
  const [redis, remote, local] = await Promise.all([
    startRedis(),
    startDovecot({ settings: manySessions(WATCH_ACCOUNTS) }),
    startDovecot(),
  ]);
  const world: World = { redis: redis as RedisFixture, remote, local, stop: async () => undefined };
  const lines = [
    '# getmail push (IDLE) vs polling',
    '',
    `${new Date().toISOString()}, ${process.version}, ${os.cpus().length} CPUs, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} at start; 127.0.0.1, private Dovecot pair and Redis.`,
    '',
  ];
  const report = path.join(ROOT, 'bench/results/push.md');
  mkdirSync(path.dirname(report), { recursive: true });
  const save = () => writeFileSync(report, `${lines.join('\n')}\n`);
  try {
    if (SECTIONS.has('memory')) {
      await buildMailjobs();
      const m = await memory(world);
      const per = (m.pushKb - m.baseKb) / m.accounts;
      lines.push(
        `## Memory of a worker process watching ${m.accounts} accounts`,
        '',
        '| worker | RSS |',
        '|---|---|',
        `| ${m.accounts} connectors, push: false | ${(m.baseKb / 1024).toFixed(0)} MiB |`,
        `| ${m.accounts} connectors, each in IDLE | ${(m.pushKb / 1024).toFixed(0)} MiB |`,
        `| per watched account | ${per.toFixed(0)} KiB |`,
        '',
      );
      save();
      console.log(lines.slice(-8).join('\n'));
    }
    if (SECTIONS.has('latency')) {
      const r = await latency(world);
      lines.push(
        `## Latency, remote APPEND → local INBOX (${MESSAGES} messages)`,
        '',
        '| mode | median | p99 | ratio (median) |',
        '|---|---|---|---|',
        `| push (IDLE), one message at a time | ${r.push.median} ms | ${r.push.p99} ms | 1 |`,
        `| polling every ${POLL_SECONDS} s, messages at random moments over ${POLL_WINDOW_SECONDS} s | ${r.poll.median} ms | ${r.poll.p99} ms | ${(r.poll.median / r.push.median).toFixed(0)}× |`,
        '',
      );
      save();
      console.log(lines.slice(-7).join('\n'));
    }
  } finally {
    await Promise.allSettled([remote.stop(), local.stop()]);
    await redis.stop();
  }
}

await main();
