/**
 * `npm run bench:sync-bulk [-- --accounts N --messages N --concurrency N]`: a bulk migration end
 * to end. N accounts (default 200) of M small messages (default 100) on a remote Dovecot, copied
 * into fresh local users twice: by mailjobs (`mailjobs sync import` of a CSV, one `mailjobs
 * worker` with `workers.concurrency.imapsync` = C, `mailjobs sync start`, timed until every task
 * is done) and by mbsync (isync) processes, one per account, C at a time. Total time, the ratio,
 * peak memory (the worker's VmHWM; mbsync: the largest single process and C times it, the most
 * that runs at once); every local mailbox is checked to hold exactly M messages. Writes
 * bench/results/sync-bulk.md.
 */
import { randomBytes } from 'node:crypto';
import { writeFile, writeFileSync } from 'node:fs';
import { chown, mkdir, stat } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { stateKey } from '../src/core/redis.js';
import { startDovecot, type DovecotFixture } from '../test/fixtures/dovecot.js';
import { startRedis } from '../test/fixtures/redis.js';
import { run } from '../test/fixtures/service.js';
import { loadMaildir, makeSmallCorpus, wireBytes } from './corpus.js';
import { runMbsync } from './imapsync-tools.js';
import { inBatches } from './many-accounts.js';
import { killChildren, measure, mib, startLongRunning, vmHwmKb } from './measure.js';
import { buildMailjobs, CLI, ROOT, toolDir } from './tools.js';

const { values } = parseArgs({
  options: {
    accounts: { type: 'string', default: '200' },
    messages: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '8' },
  },
});
const ACCOUNTS = Number(values.accounts);
const MESSAGES = Number(values.messages);
const C = Number(values.concurrency);
const TIMEOUT_MS = 60 * 60_000;

interface Account {
  i: number;
  remoteUser: string;
  remotePassword: string;
}

/** Messages in every user's INBOX of `fx`. */
async function inboxCounts(fx: DovecotFixture): Promise<Map<string, number>> {
  const r = await run(
    'doveadm',
    ['-c', fx.configFile, '-f', 'tab', 'mailbox', 'status', '-A', 'messages', 'INBOX'],
    { timeoutMs: 300_000 },
  );
  if (r.code !== 0) throw new Error(`doveadm mailbox status -A failed: ${r.stderr}`);
  const out = new Map<string, number>();
  for (const line of r.stdout.trim().split('\n').slice(1)) {
    const [user, , n] = line.split('\t');
    if (user) out.set(user, Number(n));
  }
  return out;
}

const wrong = (counts: Map<string, number>, users: string[]) =>
  users.filter((u) => counts.get(u) !== MESSAGES).length;

async function benchMailjobs(
  remote: DovecotFixture,
  local: DovecotFixture,
  redisUrl: string,
  accounts: Account[],
) {
  const dir = toolDir('sync-bulk');
  const prefix = `bench${randomBytes(3).toString('hex')}`;
  const config = path.join(dir, 'mailjobs.yaml');
  writeFileSync(
    config,
    [
      `redis: { url: "${redisUrl}", prefix: ${prefix} }`,
      `workers: { concurrency: { imapsync: ${C} } }`,
      `remoteSessionsPerHost: ${C}`,
      'dovecot:',
      `  imap: { host: 127.0.0.1, port: ${local.imapPort}, security: none }`,
      `  lmtp: { host: 127.0.0.1, port: ${local.lmtpPort} }`,
      '  masterUser: vmail',
      `  masterPasswordFile: ${local.masterPasswordFile}`,
      `secrets: { keyFile: ${path.join(dir, 'secrets.key')} }`,
      'imapsync: { parallelFolders: 1, adhoc: { allow: [127.0.0.1] } }',
      '',
    ].join('\n'),
  );
  const csv = path.join(dir, 'tasks.csv');
  writeFileSync(
    csv,
    [
      'localUser,host,username,password,port,security',
      ...accounts.map(
        (a) => `bm-l${a.i},127.0.0.1,${a.remoteUser},${a.remotePassword},${remote.imapPort},none`,
      ),
    ].join('\n'),
    { mode: 0o600 },
  );
  const cli = async (...args: string[]) => {
    const r = await measure(process.execPath, [CLI, ...args, '--config', config], { timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`mailjobs ${args.join(' ')}: exit ${r.code}\n${r.stderr.slice(-2000)}`);
    return r;
  };
  await cli('sync', 'import', csv);
  const worker = startLongRunning(process.execPath, [CLI, 'worker', '--config', config], {
    ...process.env,
    MAILJOBS_LOG_PRETTY: '0',
    MAILJOBS_LOG_LEVEL: 'warn',
  });
  const redis = new Redis(redisUrl);
  try {
    await worker.waitForLine(/"msg":"mailjobs running"/, 60_000).catch(() => undefined);
    const started = process.hrtime.bigint();
    await cli('sync', 'start');
    const runs = stateKey(prefix, 'runs', 'imapsync');
    const deadline = Date.now() + TIMEOUT_MS;
    let finished = 0;
    while (Date.now() < deadline) {
      const targets = await redis.smembers(runs);
      const m = redis.multi();
      for (const t of targets) m.hget(stateKey(prefix, 'run', 'imapsync', t), 'lastOutcome');
      finished = ((await m.exec()) ?? []).filter(([, v]) => v === 'success' || v === 'failure').length;
      if (finished >= accounts.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    const peakRssKb = vmHwmKb(worker.child.pid!);
    const status = await cli('status', '--sync', '--json').catch((e: Error) => ({ stdout: e.message }));
    const totals = (JSON.parse(status.stdout) as { totals: Record<string, number> }).totals;
    return { wallMs, peakRssKb, totals };
  } finally {
    await redis.quit();
    await worker.stop();
  }
}

async function benchMbsync(
  remote: DovecotFixture,
  local: DovecotFixture,
  redisUrl: string,
  accounts: Account[],
) {
  let peak = 0;
  let failed = 0;
  let firstError = '';
  const started = process.hrtime.bigint();
  const queue = [...accounts];
  await Promise.all(
    Array.from({ length: C }, async () => {
      for (let a = queue.shift(); a; a = queue.shift()) {
        const r = await runMbsync({
          remote,
          local,
          redisUrl,
          remoteUser: a.remoteUser,
          remotePassword: a.remotePassword,
          localUser: `bb-l${a.i}`,
        });
        if (r.code !== 0) {
          failed++;
          firstError ||= `exit ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`;
        }
        peak = Math.max(peak, r.peakRssKb ?? 0);
      }
    }),
  );
  return { wallMs: Number(process.hrtime.bigint() - started) / 1e6, peakRssKb: peak, failed, firstError };
}

async function main(): Promise<void> {
  console.error(`[bench] sync-bulk: ${ACCOUNTS} accounts × ${MESSAGES} messages, ${C} at a time`);
  await buildMailjobs();
  const [redis, remote, local] = await Promise.all([
    startRedis(),
    startDovecot({ separator: '.', specialUse: false }),
    startDovecot({ separator: '/' }),
  ]);
  try {
    const accounts: Account[] = Array.from({ length: ACCOUNTS }, (_, i) => ({
      i,
      remoteUser: `sb-r${i}`,
      remotePassword: randomBytes(9).toString('hex'),
    }));
    await inBatches(accounts, 50, (a) => remote.addUser(a.remoteUser, a.remotePassword));
    await inBatches(accounts, 50, (a) =>
      Promise.all([local.addUser(`bm-l${a.i}`), local.addUser(`bb-l${a.i}`)]),
    );
    let bytes = 0;
    await inBatches(accounts, 8, async (a) => {
      const corpus = makeSmallCorpus(MESSAGES, 1000 + a.i);
      bytes += wireBytes(corpus);
      await loadMaildir(remote, a.remoteUser, corpus);
      // The local Dovecot creates Sent (and Drafts, Junk, Trash) itself; mbsync's pattern of the
      // imapsync bench leaves out the last three only, so the remote needs a Sent to pair with.
      const sent = path.join(remote.dir, 'mail', a.remoteUser, 'Maildir', '.Sent');
      const { uid, gid } = await stat(path.dirname(sent));
      for (const sub of ['', 'cur', 'new', 'tmp']) {
        await mkdir(path.join(sent, sub), { recursive: true, mode: 0o700 });
        await chown(path.join(sent, sub), uid, gid);
      }
    });
    console.error(`[bench] seeded ${(bytes / 1e6).toFixed(1)} MB; mailjobs…`);
    const mj = await benchMailjobs(remote, local, redis.url, accounts);
    console.error(`[bench] mailjobs ${(mj.wallMs / 1000).toFixed(1)} s; mbsync…`);
    const mb = await benchMbsync(remote, local, redis.url, accounts);
    const counts = await inboxCounts(local);
    const mjWrong = wrong(
      counts,
      accounts.map((a) => `bm-l${a.i}`),
    );
    const mbWrong = wrong(
      counts,
      accounts.map((a) => `bb-l${a.i}`),
    );
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    const report = [
      `# sync-bulk: ${ACCOUNTS} accounts × ${MESSAGES} messages (${(bytes / 1e6).toFixed(1)} MB), ${C} at a time`,
      '',
      `Machine: ${cpus().length} CPUs, load ${loadavg()
        .map((l) => l.toFixed(1))
        .join(
          ' ',
        )} at the end. Command: \`npm run bench:sync-bulk -- --accounts ${ACCOUNTS} --messages ${MESSAGES} --concurrency ${C}\``,
      '',
      '| tool | total time | accounts/s | × mbsync time | peak memory | wrong mailboxes |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      `| mailjobs (\`sync import\` + one \`worker\`, concurrency ${C}) | ${s(mj.wallMs)} | ${(ACCOUNTS / (mj.wallMs / 1000)).toFixed(2)} | ${(mj.wallMs / mb.wallMs).toFixed(2)} | ${mib(mj.peakRssKb)} (one process) | ${mjWrong} |`,
      `| mbsync ${C} processes at a time | ${s(mb.wallMs)} | ${(ACCOUNTS / (mb.wallMs / 1000)).toFixed(2)} | 1.00 | ${mib(mb.peakRssKb)} each, ≤ ${mib(mb.peakRssKb * C)} for ${C} | ${mbWrong} (${mb.failed} failed) |`,
      '',
      `mailjobs fleet totals at the end: ${JSON.stringify(mj.totals)}`,
      ...(mb.firstError ? ['', `mbsync's first failure: ${mb.firstError}`] : []),
      '',
    ].join('\n');
    console.log(report);
    writeFile(path.join(ROOT, 'bench/results/sync-bulk.md'), report, () => undefined);
  } finally {
    killChildren();
    await Promise.allSettled([remote.stop(), local.stop()]);
    await redis.stop();
  }
}

await main();
