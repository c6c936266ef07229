/**
 * Many small accounts polled at once by one worker process: `mailjobs worker` with
 * `workers.concurrency.getmail` = the number of accounts, every account enqueued through the
 * typed client, timed until the queue has finished them all.
 */
import { randomBytes } from 'node:crypto';
import { createClient } from '../src/client/index.js';
import { openQueue } from '../src/core/queues.js';
import type { DovecotFixture } from '../test/fixtures/dovecot.js';
import { run } from '../test/fixtures/service.js';
import { loadMaildir, makeSmallCorpus } from './corpus.js';
import { startLongRunning, vmHwmKb } from './measure.js';
import { CLI, toolDir, writeMailjobsConfig, type BenchConnector } from './tools.js';

/** What {@link runManyAccounts} saw. */
export interface ManyAccountsResult {
  accounts: number;
  messagesEach: number;
  /** From the first enqueue until the last job finished. */
  wallMs: number;
  completed: number;
  failed: number;
  /** Attempts that failed and were retried (the worker's "job failed" lines). */
  failedAttempts: number;
  /** Jobs still waiting, active or delayed (retrying) when the run ended. */
  unfinished: number;
  /** Messages counted in the local mailboxes. */
  delivered: number;
  /** Accounts whose mailbox does not hold exactly `messagesEach` messages. */
  wrongAccounts: number;
  peakRssKb: number | undefined;
  /** Median and longest `durationMs` of the completed jobs (time inside the processor). */
  jobMs: { median: number; max: number } | undefined;
  /** Dovecot log lines about limits (process_limit, client_limit) during the run. */
  dovecotLimits: string[];
  /** The worker's warnings and errors, grouped: `message (N×)`. */
  problems: string[];
}

/** Runs `work` over `items`, `limit` at a time. */
export async function inBatches<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<unknown>,
  signal?: AbortSignal,
) {
  for (let i = 0; i < items.length; i += limit) {
    signal?.throwIfAborted();
    await Promise.all(items.slice(i, i + limit).map(work));
  }
}

/** Sets up `accounts` remote/local user pairs of `messagesEach` messages; runs them in one worker. */
export async function runManyAccounts(opts: {
  remote: DovecotFixture;
  local: DovecotFixture;
  redisUrl: string;
  accounts: number;
  messagesEach: number;
  seed: number;
  timeoutMs: number;
  /** Run the worker with `--cpu-prof` into this folder (written when it stops). */
  profileDir?: string;
  /** Stops the set-up and the wait (the bench was interrupted). */
  signal?: AbortSignal;
}): Promise<ManyAccountsResult> {
  const { remote, local, accounts, messagesEach } = opts;
  console.error(`[bench] many accounts: ${accounts} accounts × ${messagesEach} messages in one worker`);
  const connectors: BenchConnector[] = Array.from({ length: accounts }, (_, i) => ({
    id: `many-${i}`,
    remoteUser: `many-r${i}`,
    remotePassword: randomBytes(9).toString('hex'),
    localUser: `many-l${i}`,
  }));
  await Promise.all([
    inBatches(connectors, 50, (c) => remote.addUser(c.remoteUser, c.remotePassword), opts.signal),
    inBatches(connectors, 50, (c) => local.addUser(c.localUser), opts.signal),
  ]);
  await inBatches(
    connectors,
    8,
    (c) =>
      loadMaildir(remote, c.remoteUser, makeSmallCorpus(messagesEach, opts.seed + Number(c.id.slice(5)))),
    opts.signal,
  );
  const prefix = `bench${randomBytes(3).toString('hex')}`;
  const config = writeMailjobsConfig(toolDir('many'), {
    redisUrl: opts.redisUrl,
    prefix,
    remote,
    local,
    connectors,
    concurrency: accounts,
  });
  const nodeArgs = opts.profileDir ? ['--cpu-prof', '--cpu-prof-dir', opts.profileDir] : [];
  const worker = startLongRunning(process.execPath, [...nodeArgs, CLI, 'worker', '--config', config], {
    ...process.env,
    MAILJOBS_LOG_PRETTY: '0',
  });
  const client = createClient({ redis: opts.redisUrl, prefix });
  const queue = openQueue('getmail', opts.redisUrl, prefix);
  let peakRssKb: number | undefined;
  try {
    await worker.waitForLine(/"msg":"mailjobs running"/, 60_000);
    const started = process.hrtime.bigint();
    await Promise.all(connectors.map((c) => client.enqueue('getmail', { account: c.id })));
    const deadline = Date.now() + opts.timeoutMs;
    let counts: Record<string, number> = {};
    while (Date.now() < deadline) {
      opts.signal?.throwIfAborted();
      counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed');
      if ((counts.completed ?? 0) + (counts.failed ?? 0) >= accounts) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    peakRssKb = vmHwmKb(worker.child.pid!);
    const perUser = await mailboxCounts(local);
    const wrongAccounts = connectors.filter((c) => perUser.get(c.localUser) !== messagesEach).length;
    const delivered = connectors.reduce((sum, c) => sum + (perUser.get(c.localUser) ?? 0), 0);
    const { stdout } = worker.output();
    const problems = warnings(stdout);
    const failedAttempts = stdout.split('\n').filter((l) => l.includes('"msg":"getmail job failed"')).length;
    const durations = (await queue.getJobs(['completed'], 0, accounts))
      .map((j) => Number((j.returnvalue as { durationMs?: number } | null)?.durationMs))
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    const jobMs = durations.length
      ? { median: durations[Math.floor(durations.length / 2)]!, max: durations[durations.length - 1]! }
      : undefined;
    const dovecotLimits = [remote, local].flatMap((fx, i) =>
      fx
        .log()
        .split('\n')
        .filter((l) => /_limit|connections are being dropped/.test(l))
        .map((l) => `${i === 0 ? 'remote' : 'local'}: ${l.replace(/^\w+ \d+ [\d:]+ /, '')}`),
    );
    return {
      accounts,
      messagesEach,
      wallMs,
      completed: counts.completed ?? 0,
      failed: counts.failed ?? 0,
      failedAttempts,
      unfinished: (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.delayed ?? 0),
      delivered,
      wrongAccounts,
      peakRssKb,
      jobMs,
      dovecotLimits: [...new Set(dovecotLimits)].slice(0, 5),
      problems,
    };
  } finally {
    const steps = await Promise.allSettled([worker.stop(), client.close(), queue.close()]);
    for (const s of steps) if (s.status === 'rejected') console.error('many-accounts cleanup:', s.reason);
  }
}

/** Messages in every user's INBOX of `fx`, in one `doveadm mailbox status -A`. */
export async function mailboxCounts(fx: DovecotFixture): Promise<Map<string, number>> {
  const r = await run(
    'doveadm',
    ['-c', fx.configFile, '-f', 'tab', 'mailbox', 'status', '-A', 'messages', 'INBOX'],
    {
      timeoutMs: 120_000,
    },
  );
  if (r.code !== 0) throw new Error(`doveadm mailbox status -A failed (exit ${r.code}): ${r.stderr}`);
  const counts = new Map<string, number>();
  for (const line of r.stdout.trim().split('\n').slice(1)) {
    const [user, , messages] = line.split('\t');
    if (user) counts.set(user, Number(messages));
  }
  return counts;
}

/** Warn-or-worse pino lines, grouped by message; the private Redis's missing persistence is expected. */
function warnings(stdout: string): string[] {
  const counts = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    if (!/"level":(40|50|60)/.test(line)) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; err?: { message?: string } | string };
      if (entry.msg?.startsWith('Redis has no persistence')) continue;
      const err = typeof entry.err === 'string' ? entry.err : entry.err?.message;
      const text = `${entry.msg ?? '?'}${err ? `: ${err}` : ''}`.slice(0, 200);
      counts.set(text, (counts.get(text) ?? 0) + 1);
    } catch {
      counts.set(line.slice(0, 200), (counts.get(line.slice(0, 200)) ?? 0) + 1);
    }
  }
  return [...counts].map(([text, n]) => `\`${text}\` (${n}×)`).slice(0, 5);
}
