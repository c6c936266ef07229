/**
 * Many small accounts polled at once by one worker process: `mailjobs worker` with
 * `workers.concurrency.getmail` = the number of accounts, every account enqueued through the
 * typed client, timed until the queue has finished them all.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createClient } from '../src/client/index.js';
import { openQueue } from '../src/core/queues.js';
import type { DovecotFixture } from '../test/fixtures/dovecot.js';
import { run } from '../test/fixtures/service.js';
import { loadMaildir, makeSmallCorpus } from './corpus.js';
import { startLongRunning, vmHwmKb } from './measure.js';
import { ROOT, toolDir, writeMailjobsConfig, type BenchConnector } from './tools.js';

/** What {@link runManyAccounts} saw. */
export interface ManyAccountsResult {
  accounts: number;
  messagesEach: number;
  /** From the first enqueue until the last job finished. */
  wallMs: number;
  completed: number;
  failed: number;
  /** Jobs still waiting, active or delayed (retrying) when the run ended. */
  unfinished: number;
  /** Messages counted in the local mailboxes. */
  delivered: number;
  /** Accounts whose mailbox does not hold exactly `messagesEach` messages. */
  wrongAccounts: number;
  peakRssKb: number | undefined;
  /** Lines from the worker's log at warn level or above (first few). */
  problems: string[];
}

/** Runs `work` over `items`, `limit` at a time. */
export async function inBatches<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>) {
  for (let i = 0; i < items.length; i += limit) await Promise.all(items.slice(i, i + limit).map(work));
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
}): Promise<ManyAccountsResult> {
  const { remote, local, accounts, messagesEach } = opts;
  const connectors: BenchConnector[] = Array.from({ length: accounts }, (_, i) => ({
    id: `many-${i}`,
    remoteUser: `many-r${i}`,
    remotePassword: randomBytes(9).toString('hex'),
    localUser: `many-l${i}`,
  }));
  await Promise.all([
    inBatches(connectors, 50, (c) => remote.addUser(c.remoteUser, c.remotePassword)),
    inBatches(connectors, 50, (c) => local.addUser(c.localUser)),
  ]);
  await inBatches(connectors, 8, (c) =>
    loadMaildir(remote, c.remoteUser, makeSmallCorpus(messagesEach, opts.seed + Number(c.id.slice(5)))),
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
  const worker = startLongRunning(
    process.execPath,
    [path.join(ROOT, 'dist/cli.js'), 'worker', '--config', config],
    {
      ...process.env,
      MAILJOBS_LOG_PRETTY: '0',
    },
  );
  const client = createClient({ redisUrl: opts.redisUrl, prefix });
  const queue = openQueue('getmail', opts.redisUrl, prefix);
  let peakRssKb: number | undefined;
  try {
    await worker.waitForLine(/"msg":"mailjobs running"/, 60_000);
    const started = process.hrtime.bigint();
    await Promise.all(connectors.map((c) => client.enqueue('getmail', { account: c.id })));
    const deadline = Date.now() + opts.timeoutMs;
    let counts: Record<string, number> = {};
    while (Date.now() < deadline) {
      counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed');
      if ((counts.completed ?? 0) + (counts.failed ?? 0) >= accounts) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    peakRssKb = vmHwmKb(worker.child.pid!);
    const perUser = await mailboxCounts(local);
    const wrongAccounts = connectors.filter((c) => perUser.get(c.localUser) !== messagesEach).length;
    const delivered = connectors.reduce((sum, c) => sum + (perUser.get(c.localUser) ?? 0), 0);
    const problems = worker
      .output()
      .stdout.split('\n')
      .filter((l) => /"level":(40|50|60)/.test(l))
      .slice(0, 5);
    return {
      accounts,
      messagesEach,
      wallMs,
      completed: counts.completed ?? 0,
      failed: counts.failed ?? 0,
      unfinished: (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.delayed ?? 0),
      delivered,
      wrongAccounts,
      peakRssKb,
      problems,
    };
  } finally {
    const steps = await Promise.allSettled([worker.stop(), client.close(), queue.close()]);
    for (const s of steps) if (s.status === 'rejected') console.error('many-accounts cleanup:', s.reason);
  }
}

/** Messages in every user's INBOX of `fx`, in one `doveadm mailbox status -A`. */
async function mailboxCounts(fx: DovecotFixture): Promise<Map<string, number>> {
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
