/**
 * `npm run bench:getmail`: the getmail job against getmail6 and fetchmail, on 127.0.0.1 only.
 * A private "remote" Dovecot serves POP3, a private "local" Dovecot takes LMTP, a private
 * Redis holds mailjobs' state. Sections: throughput over a realistic corpus (one fresh
 * account per tool, same corpus), a no-change poll of a 10k-message account, the rebuild of a
 * 10k-message account's lost state from the local mailbox, many small accounts in one worker,
 * and the memory of one 50 MB message. Writes bench/results/getmail.md.
 *
 * Knobs (environment): BENCH_MESSAGES (2000), BENCH_SEED (1729), BENCH_POLL_MESSAGES (10000),
 * BENCH_REBUILD_MESSAGES (10000), BENCH_ACCOUNTS (200), BENCH_RUNS (1: throughput runs per tool, round-robin; the median is
 * reported), BENCH_PROFILE=1 (CPU profiles of the first mailjobs throughput run and of the
 * many-accounts worker, summarised in the report's notes), BENCH_LMTP_CONNECTIONS (unset:
 * mailjobs' default `getmail.lmtpConnections`), BENCH_SECTIONS (all: a comma-separated subset of
 * `throughput,poll,rebuild,many,huge`, to measure one part while working on it), BENCH_TOOLS (all: a subset
 * of `mailjobs,getmail6,fetchmail` for the throughput section).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDovecot, type DovecotFixture } from '../test/fixtures/dovecot.js';
import { startRedis, type RedisFixture } from '../test/fixtures/redis.js';
import {
  distinctMessageIds,
  loadMaildir,
  makeCorpus,
  makeHugeMessage,
  makeSmallCorpus,
  messageCount,
  warmUp,
  wireBytes,
  type CorpusMessage,
} from './corpus.js';
import { runManyAccounts, type ManyAccountsResult } from './many-accounts.js';
import { killChildren } from './measure.js';
import { profileMarkdown, summarizeProfile } from './profile.js';
import { coldStateRebuild, type RebuildResult } from './rebuild.js';
import {
  formatReport,
  sourceRevision,
  toolVersions,
  type HugeResult,
  type PollResult,
  type ThroughputRow,
} from './report.js';
import {
  buildMailjobs,
  removeToolDirs,
  ROOT,
  runFetchmail,
  runGetmail6,
  runMailjobs,
  toolDir,
  writeMailjobsConfig,
  type FetchTarget,
  type ToolRun,
} from './tools.js';

const envInt = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, not ${process.env[name]}`);
  return value;
};
const MESSAGES = envInt('BENCH_MESSAGES', 2000);
const SEED = envInt('BENCH_SEED', 1729);
const POLL_MESSAGES = envInt('BENCH_POLL_MESSAGES', 10_000);
const REBUILD_MESSAGES = envInt('BENCH_REBUILD_MESSAGES', 10_000);
const ACCOUNTS = envInt('BENCH_ACCOUNTS', 200);
const RUNS = envInt('BENCH_RUNS', 1);
const PROFILE = process.env.BENCH_PROFILE === '1';
const ALL_SECTIONS = ['throughput', 'poll', 'rebuild', 'many', 'huge'];
const SECTIONS = new Set((process.env.BENCH_SECTIONS ?? ALL_SECTIONS.join(',')).split(','));
for (const s of SECTIONS)
  if (!ALL_SECTIONS.includes(s)) throw new Error(`BENCH_SECTIONS: unknown section ${JSON.stringify(s)}`);
const TOOLS = new Set((process.env.BENCH_TOOLS ?? 'mailjobs,getmail6,fetchmail').split(','));
const TOOL_TIMEOUT_MS = 20 * 60_000;
const RESULTS = path.join(ROOT, 'bench/results');

/** Aborted on SIGINT/SIGTERM or a stray error: every step checks it, so the run winds down. */
const interrupt = new AbortController();
let abortExitCode = 1;
/** How to stop each service started, in start order. */
const stops: Array<() => Promise<void>> = [];

/** Stops the tools, then every service in reverse start order, trying each step. */
async function stopAll(): Promise<void> {
  killChildren(); // tools run in their own process groups: Ctrl-C does not reach them
  for (const stop of stops.splice(0).reverse())
    await stop().catch((err) => console.error('[bench] stop:', err));
  removeToolDirs();
}

/**
 * Ends the run early: main() stops everything in its `finally` once the current step sees the
 * abort; the timer is only for a step that never returns.
 */
function abortRun(reason: string, exitCode: number): void {
  if (interrupt.signal.aborted) return;
  abortExitCode = exitCode;
  console.error(`[bench] ${reason}: stopping the tools, then the services`);
  interrupt.abort(new Error(reason));
  killChildren();
  setTimeout(() => void stopAll().finally(() => process.exit(exitCode)), 60_000).unref();
}

// `on`, not `once`: Ctrl-C reaches us twice (from the terminal and relayed by tsx), and a
// second signal with no listener would end the process half-way through the clean-up.
process.on('SIGINT', () => abortRun('SIGINT', 130)).on('SIGTERM', () => abortRun('SIGTERM', 143));
process.on('uncaughtException', (err) => {
  console.error('[bench] uncaught:', err);
  abortRun('uncaught exception', 1);
});

interface Env {
  remote: DovecotFixture;
  local: DovecotFixture;
  redis: RedisFixture;
}

const secret = () => randomBytes(9).toString('hex');

/** A remote account loaded with `messages` (warmed up over POP3) and a fresh local user. */
async function prepare(env: Env, name: string, messages: readonly CorpusMessage[], localUser = `${name}-l`) {
  interrupt.signal.throwIfAborted();
  const target: FetchTarget = {
    remote: env.remote,
    local: env.local,
    remoteUser: `${name}-r`,
    remotePassword: secret(),
    localUser,
  };
  await env.remote.addUser(target.remoteUser, target.remotePassword);
  await env.local.addUser(localUser);
  await loadMaildir(env.remote, target.remoteUser, messages);
  await warmUp(env.remote, target.remoteUser, target.remotePassword);
  return target;
}

/** A mailjobs config with one connector for `t`; returns the file and the connector id. */
function mailjobsConfigFor(env: Env, t: FetchTarget) {
  const id = `${t.remoteUser}-acct`;
  const file = writeMailjobsConfig(toolDir('mailjobs'), {
    redisUrl: env.redis.url,
    prefix: `bench${secret().slice(0, 6)}`,
    remote: env.remote,
    local: env.local,
    connectors: [{ id, remoteUser: t.remoteUser, remotePassword: t.remotePassword, localUser: t.localUser }],
  });
  return { file, id };
}

/** Checks the local mailbox holds exactly the corpus; a short reason otherwise. */
async function verify(env: Env, user: string, run: ToolRun, expected: number): Promise<string | undefined> {
  const count = await messageCount(env.local, user);
  const distinct = count > 0 ? await distinctMessageIds(env.local, user) : 0;
  const why: string[] = [];
  if (run.timedOut) why.push(`killed after ${TOOL_TIMEOUT_MS / 60_000} min`);
  if (run.code !== 0) why.push(`exit ${run.code ?? run.signal}`);
  if (count !== expected) why.push(`delivered ${count} of ${expected}`);
  else if (distinct !== expected) why.push(`${expected - distinct} duplicates`);
  if (why.length === 0) return undefined;
  const tail = (run.stderr.trim() || run.stdout.trim()).split('\n').slice(-3).join(' / ');
  return `${why.join(', ')}${tail ? `: ${tail.slice(0, 400)}` : ''}`;
}

async function throughput(env: Env, corpus: CorpusMessage[], notes: string[]): Promise<ThroughputRow[]> {
  const profileDir = path.join(RESULTS, 'profile');
  const all: Array<[string, (t: FetchTarget, run: number) => Promise<ToolRun>]> = [
    [
      'mailjobs',
      (t, run) => {
        const { file, id } = mailjobsConfigFor(env, t);
        const nodeArgs = PROFILE && run === 0 ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
        return runMailjobs(file, id, { timeoutMs: TOOL_TIMEOUT_MS, nodeArgs });
      },
    ],
    ['getmail6', (t) => runGetmail6(t, { timeoutMs: TOOL_TIMEOUT_MS })],
    ['fetchmail', (t) => runFetchmail(t, { timeoutMs: TOOL_TIMEOUT_MS })],
  ];
  const tools = all.filter(([tool]) => TOOLS.has(tool));
  const rows = new Map(
    tools.map(([tool]) => [
      tool,
      { tool, messages: corpus.length, bytes: wireBytes(corpus), runs: [] } as ThroughputRow,
    ]),
  );
  // Round-robin over the runs, so load from elsewhere on the machine spreads over every tool.
  for (let run = 0; run < RUNS; run++) {
    for (const [tool, fetch] of tools) {
      const target = await prepare(env, `tp${run}-${tool}`, corpus);
      const load = os.loadavg()[0] ?? 0;
      interrupt.signal.throwIfAborted();
      console.error(`[bench] throughput ${run + 1}/${RUNS}: ${tool} fetching ${corpus.length} messages`);
      const result = await fetch(target, run);
      const failure = await verify(env, target.localUser, result, corpus.length);
      rows.get(tool)!.runs.push({
        wallMs: result.wallMs,
        peakRssKb: result.peakRssKb,
        load,
        failure,
        cpuMs: result.cpuMs,
        machineCpuMs: result.machineCpuMs,
      });
      if (tool === 'mailjobs' && result.result)
        notes.push(`mailjobs result (run ${run + 1}): \`${JSON.stringify(result.result)}\``);
    }
  }
  const profile = profileIn(profileDir);
  if (profile)
    notes.push('', '**mailjobs, throughput run 1:**', ...profileMarkdown(summarizeProfile(profile)));
  return [...rows.values()];
}

async function noChangePoll(env: Env): Promise<PollResult> {
  const corpus = makeSmallCorpus(POLL_MESSAGES, SEED + 1);
  const target = await prepare(env, 'poll', corpus);
  const { file, id } = mailjobsConfigFor(env, target);
  console.error(`[bench] poll: first fetch of ${corpus.length} messages`);
  const first = await runMailjobs(file, id, { timeoutMs: TOOL_TIMEOUT_MS });
  const failure = await verify(env, target.localUser, first, corpus.length);
  if (failure) return { messages: corpus.length, first, failure };
  console.error('[bench] poll: second run, nothing new');
  const second = await runMailjobs(file, id, { timeoutMs: TOOL_TIMEOUT_MS });
  const again = await messageCount(env.local, target.localUser);
  const secondFailure =
    second.code !== 0 || !second.result
      ? `second run: exit ${second.code}: ${second.stderr.trim().slice(-300)}`
      : again !== corpus.length
        ? `second run changed the mailbox: ${again} messages`
        : undefined;
  return { messages: corpus.length, first, second, failure: secondFailure };
}

async function rebuildState(env: Env): Promise<RebuildResult> {
  const corpus = makeSmallCorpus(REBUILD_MESSAGES, SEED + 4);
  const target = await prepare(env, 'rebuild', corpus);
  const { file, id } = mailjobsConfigFor(env, target);
  console.error(`[bench] rebuild: ${corpus.length} fetched messages in the local mailbox, no state`);
  return coldStateRebuild(target, corpus, id, () => runMailjobs(file, id, { timeoutMs: TOOL_TIMEOUT_MS }));
}

async function hugeMessage(env: Env): Promise<HugeResult> {
  const message = makeHugeMessage(SEED + 2);
  const target = await prepare(env, 'huge', [message]);
  const { file, id } = mailjobsConfigFor(env, target);
  console.error(`[bench] huge: one ${(message.wireSize / 2 ** 20).toFixed(0)} MiB message`);
  const run = await runMailjobs(file, id, { timeoutMs: TOOL_TIMEOUT_MS });
  return { bytes: message.wireSize, run, failure: await verify(env, target.localUser, run, 1) };
}

/** The `.cpuprofile` in `dir` when profiling is on (the folders are emptied at start). */
function profileIn(dir: string): string | undefined {
  if (!PROFILE || !existsSync(dir)) return undefined;
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  return file && path.join(dir, file);
}

/** Runs a section; a failure is reported in the results rather than ending the bench. */
async function section<T>(
  name: string,
  key: string,
  notes: string[],
  body: () => Promise<T>,
): Promise<T | undefined> {
  if (interrupt.signal.aborted || !SECTIONS.has(key)) return undefined;
  try {
    return await body();
  } catch (err) {
    notes.push(`**${name} could not run**: ${(err as Error).stack ?? String(err)}`);
    console.error(`[bench] ${name} failed:`, err);
    return undefined;
  }
}

async function main(): Promise<number> {
  for (const dir of ['profile', 'profile-worker'])
    rmSync(path.join(RESULTS, dir), { recursive: true, force: true });
  try {
    // The revision first: what src/ holds when tsc reads it.
    const revision = await sourceRevision();
    console.error('[bench] building mailjobs into bench/results/dist');
    await buildMailjobs();
    const started = await Promise.allSettled([startRedis(), startDovecot(), startDovecot()]);
    for (const s of started) if (s.status === 'fulfilled') stops.push(() => s.value.stop());
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const [redis, remote, local] = started.map((s) => (s as PromiseFulfilledResult<unknown>).value) as [
      RedisFixture,
      DovecotFixture,
      DovecotFixture,
    ];
    const env: Env = { remote, local, redis };
    const notes: string[] = [];
    const corpus = makeCorpus(MESSAGES, SEED);
    const rows =
      (await section('throughput', 'throughput', notes, () => throughput(env, corpus, notes))) ?? [];
    const poll = await section('no-change poll', 'poll', notes, () => noChangePoll(env));
    const rebuild = await section('cold-state rebuild', 'rebuild', notes, () => rebuildState(env));
    const many: ManyAccountsResult | undefined = await section('many accounts', 'many', notes, () =>
      runManyAccounts({
        profileDir: PROFILE ? path.join(RESULTS, 'profile-worker') : undefined,
        remote,
        local,
        redisUrl: redis.url,
        accounts: ACCOUNTS,
        messagesEach: 5,
        seed: SEED + 3,
        timeoutMs: 10 * 60_000,
        signal: interrupt.signal,
      }),
    );
    const workerProfile = profileIn(path.join(RESULTS, 'profile-worker'));
    if (workerProfile)
      notes.push('', '**Worker, many accounts:**', ...profileMarkdown(summarizeProfile(workerProfile)));
    const huge = await section('50 MB message', 'huge', notes, () => hugeMessage(env));
    if (interrupt.signal.aborted) return abortExitCode; // no report from an interrupted run
    const report = formatReport({
      corpus,
      rows,
      poll,
      rebuild,
      many,
      huge,
      notes,
      versions: await toolVersions(),
      revision,
      seed: SEED,
      runs: RUNS,
    });
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(path.join(RESULTS, 'getmail.md'), report);
    console.log(report);
    console.error(`[bench] written to ${path.relative(process.cwd(), path.join(RESULTS, 'getmail.md'))}`);
    return (rows.length > 0 || !SECTIONS.has('throughput')) &&
      rows.every((r) => r.runs.every((x) => !x.failure))
      ? 0
      : 1;
  } finally {
    await stopAll();
  }
}

process.exitCode = await main();
