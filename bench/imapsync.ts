/**
 * `npm run bench:imapsync`: mailjobs imapsync against mbsync (isync) and dsync (`doveadm backup`
 * from imapc) on the same corpus: a remote Dovecot (Maildir++, separator '.') holding
 * `--messages` messages (default 6,000) in 10 folders, copied into fresh users of a local
 * Dovecot (separator '/'). First run and a no-change rerun of each tool: messages/s, MB/s, peak
 * RSS, median of `--runs` (3) round-robin runs. Writes bench/results/imapsync.md. Options:
 * --messages N, --parallel N (mailjobs folders at once), --runs N; for the scale run,
 * --folders N (the first N of the 10; 1: everything in INBOX), --small (2-4 KB text messages
 * only), --tools mailjobs,mailjobs-worker,mbsync,dsync (a subset; mailjobs-worker: a running
 * `mailjobs worker` per target, each run timed from the enqueue to the job's end), --cli FILE (a built cli.js other than dist's),
 * --out NAME (bench/results/NAME.md), --compare-cli FILE (after each mailjobs rerun, one more
 * no-change rerun with that build, e.g. one from before a start-up change).
 */
import { chown, mkdir, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startDovecot, type DovecotFixture } from '../test/fixtures/dovecot.js';
import { startRedis } from '../test/fixtures/redis.js';
import { run } from '../test/fixtures/service.js';
import { makeCorpus, makeSmallCorpus, type CorpusMessage, wireBytes } from './corpus.js';
import { killChildren, mib } from './measure.js';
import {
  mailjobsWorkerTool,
  ROOT,
  runDsync,
  runMailjobs,
  runMbsync,
  type SyncTarget,
  type ToolRun,
} from './imapsync-tools.js';

const ALL_FOLDERS = [
  '',
  'Sent',
  'Archive',
  'Projects',
  'Projects.Alpha',
  'Projects.Beta',
  'Lists',
  'Lists.Dev',
  'Old',
  'Old.2019',
];
const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '6000' },
    parallel: { type: 'string', default: '2' },
    runs: { type: 'string', default: '3' },
    folders: { type: 'string', default: '10' },
    small: { type: 'boolean', default: false },
    tools: { type: 'string', default: 'mailjobs,mailjobs-worker,mbsync,dsync' },
    cli: { type: 'string' },
    out: { type: 'string', default: 'imapsync' },
    'compare-cli': { type: 'string' },
  },
});
const FOLDERS = ALL_FOLDERS.slice(0, Math.max(1, Number(values.folders)));
const RUNS = Number(values.runs);
const COUNT = Number(values.messages);

/** Maildir++ files (flags in the name: S seen, F flagged, R answered), then a resync. */
async function loadFolders(
  fx: DovecotFixture,
  user: string,
  messages: CorpusMessage[],
): Promise<Map<string, number>> {
  const maildir = path.join(fx.dir, 'mail', user, 'Maildir');
  const { uid, gid } = await stat(path.dirname(maildir));
  const counts = new Map<string, number>();
  for (const f of FOLDERS) {
    for (const sub of ['cur', 'new', 'tmp'])
      await mkdir(path.join(maildir, f ? `.${f}` : '', sub), { recursive: true });
  }
  await run('chown', ['-R', `${uid}:${gid}`, maildir]);
  for (let i = 0; i < messages.length; i++) {
    // INBOX gets three shares, the other folders one each.
    const slot = i % (FOLDERS.length + 2);
    const folder = FOLDERS[Math.max(0, slot - 2)]!;
    const flags = `${i % 5 === 0 ? 'F' : ''}${i % 7 === 0 ? 'R' : ''}${i % 3 ? 'S' : ''}`;
    const m = messages[i]!;
    const file = path.join(
      maildir,
      folder ? `.${folder}` : '',
      'cur',
      `${1_700_000_000 + i}.M${i}P1.b,S=${m.data.length},W=${m.wireSize}:2,${flags}`,
    );
    await writeFile(file, m.data, { mode: 0o600 });
    await chown(file, uid, gid);
    counts.set(folder || 'INBOX', (counts.get(folder || 'INBOX') ?? 0) + 1);
  }
  const r = await run('doveadm', ['-c', fx.configFile, 'force-resync', '-u', user, '*'], {
    timeoutMs: 600_000,
  });
  if (r.code !== 0) throw new Error(`force-resync failed: ${r.stderr}`);
  return counts;
}

/** What the local user holds: messages, distinct Message-IDs, \Seen and \Flagged counts. */
async function check(fx: DovecotFixture, user: string) {
  const doveadm = (args: string[]) => run('doveadm', ['-c', fx.configFile, ...args], { timeoutMs: 300_000 });
  const ids = await doveadm(['fetch', '-u', user, 'hdr.message-id', 'all']);
  const all = ids.stdout.match(/<[^>\s]+>/g) ?? [];
  const count = async (q: string[]) =>
    (await doveadm(['search', '-u', user, ...q])).stdout.trim().split('\n').filter(Boolean).length;
  return {
    messages: all.length,
    distinct: new Set(all).size,
    seen: await count(['SEEN']),
    flagged: await count(['FLAGGED']),
  };
}

interface Row {
  tool: string;
  first: ToolRun;
  rerun: ToolRun;
  /** mailjobs only, with --compare-cli: the same rerun with the other build. */
  rerunCompare?: ToolRun;
  verdict: string;
  load: string;
}

async function main(): Promise<void> {
  const [redis, remote, local] = await Promise.all([
    startRedis(),
    startDovecot({ separator: '.', specialUse: false }),
    startDovecot({ separator: '/' }),
  ]);
  const rows: Row[] = [];
  const workerTool = mailjobsWorkerTool(Number(values.parallel), values.cli);
  const corpus = values.small ? makeSmallCorpus(COUNT, 1729) : makeCorpus(COUNT, 1729);
  const bytes = wireBytes(corpus);
  try {
    const source = await remote.addUser('r-bench', 'bench-password');
    const counts = await loadFolders(remote, source.user, corpus);
    const expected = await check(remote, source.user);
    process.stdout.write(
      `corpus: ${COUNT} messages, ${(bytes / 1e6).toFixed(1)} MB, ${counts.size} folders; source ${JSON.stringify(expected)}\n`,
    );
    const tools: [string, (t: SyncTarget) => Promise<ToolRun>][] = [
      [
        'mailjobs',
        (t) =>
          runMailjobs(
            t,
            `bench${process.pid}${t.localUser.replace(/\W/g, '')}`,
            Number(values.parallel),
            values.cli,
          ),
      ],
      [
        'mailjobs-worker',
        (t) => workerTool.runOnce(t, `benchw${process.pid}${t.localUser.replace(/\W/g, '')}`),
      ],
      ['mbsync', runMbsync],
      ['dsync', runDsync],
    ];
    const chosen = new Set(values.tools.split(','));
    tools.splice(0, tools.length, ...tools.filter(([name]) => chosen.has(name)));
    // Round-robin, each run starting with the next tool, so none is always first on a busy machine.
    const order = Array.from({ length: RUNS }, (_, r) =>
      tools.map((_t, i) => tools[(i + r) % tools.length]!),
    );
    for (const [r, [tool, runTool]] of order.flatMap((round, r) => round.map((t) => [r, t] as const))) {
      const target: SyncTarget = {
        remote,
        local,
        redisUrl: redis.url,
        remoteUser: source.user,
        remotePassword: source.password,
        localUser: (await local.addUser(`l-${tool}-${r}`)).user,
      };
      const load = loadavg()[0]!.toFixed(1);
      const first = await runTool(target);
      const got = await check(local, target.localUser);
      const rerun = await runTool(target);
      const compareCli = values['compare-cli'];
      const rerunCompare =
        tool === 'mailjobs' && compareCli
          ? await runMailjobs(
              target,
              `bench${process.pid}${target.localUser.replace(/\W/g, '')}`,
              Number(values.parallel),
              compareCli,
            )
          : undefined;
      const again = await check(local, target.localUser);
      const same =
        JSON.stringify(got) === JSON.stringify(expected) &&
        JSON.stringify(again) === JSON.stringify(expected);
      const verdict =
        first.code === 0 && rerun.code === 0 && same
          ? 'ok'
          : `MISMATCH first=${first.code} rerun=${rerun.code} ${JSON.stringify(got)} / ${JSON.stringify(again)}: ${first.stderr.slice(-400)}`;
      rows.push({ tool, first, rerun, ...(rerunCompare ? { rerunCompare } : {}), verdict, load });
      process.stdout.write(
        `${tool}: first ${(first.wallMs / 1000).toFixed(2)} s, rerun ${(rerun.wallMs / 1000).toFixed(2)} s, ${verdict}\n`,
      );
    }
  } finally {
    await workerTool.close().catch(() => undefined);
    killChildren();
    await Promise.allSettled([remote.stop(), local.stop()]);
    await redis.stop();
  }
  const md = report(rows, bytes);
  await mkdir(path.join(ROOT, 'bench/results'), { recursive: true });
  await writeFile(path.join(ROOT, `bench/results/${values.out}.md`), md);
  process.stdout.write(`\n${md}`);
}

/** The run with the median first-run time of each tool, with every run's times for reference. */
function report(rows: Row[], bytes: number): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const tools = [...new Set(rows.map((r) => r.tool))];
  const table = tools.map((tool) => {
    const runs = rows.filter((r) => r.tool === tool).sort((a, b) => a.first.wallMs - b.first.wallMs);
    const median = runs[Math.floor(runs.length / 2)]!;
    const reruns = runs.map((r) => r.rerun.wallMs).sort((a, b) => a - b);
    const rerun = reruns[Math.floor(reruns.length / 2)]!;
    const peak = Math.max(...runs.map((r) => r.first.peakRssKb ?? 0));
    const verdicts = [...new Set(runs.map((r) => r.verdict))].join('; ');
    return (
      `| ${tool} | ${s(median.first.wallMs)} (${runs.map((r) => s(r.first.wallMs)).join(', ')}) ` +
      `| ${(COUNT / (median.first.wallMs / 1000)).toFixed(0)} | ${(bytes / 1e6 / (median.first.wallMs / 1000)).toFixed(1)} ` +
      `| ${mib(peak)} | ${s(rerun)} | ${((100 * rerun) / median.first.wallMs).toFixed(1)}% ` +
      `| ${mib(Math.max(...runs.map((r) => r.rerun.peakRssKb ?? 0)))} | ${runs.map((r) => r.load).join(', ')} | ${verdicts} |`
    );
  });
  const lines = [
    '# imapsync bench',
    '',
    `${new Date().toISOString()} · ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'} · Node ${process.version}`,
    `Corpus: ${COUNT.toLocaleString('en')} messages, ${(bytes / 1e6).toFixed(1)} MB on the wire, ${FOLDERS.length} folders (${values.small ? 'makeSmallCorpus' : 'makeCorpus'}, seed 1729); remote Dovecot Maildir++ '.', local Dovecot '/', plain IMAP on 127.0.0.1. ${RUNS} runs per tool, round-robin, each into a fresh user; median first run shown (all runs in brackets); wall time from process start to exit (mailjobs-worker: from the enqueue to the job's completion, in a \`mailjobs worker\` started once per target and kept for the rerun, as in production); peak RSS of the tool's process (max over runs).`,
    '',
    '| tool | first run | messages/s | MB/s | peak RSS | no-change rerun (median) | rerun / first | rerun peak RSS | load avg at start | check |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
    ...table,
    '',
  ];
  const jobMs = (which: 'first' | 'rerun') =>
    rows
      .filter((r) => r.tool === 'mailjobs')
      .map((r) => Number(r[which].result?.durationMs))
      .filter((ms) => Number.isFinite(ms))
      .sort((a, b) => a - b);
  const [jobFirst, jobRerun] = [jobMs('first'), jobMs('rerun')];
  if (jobFirst.length > 0 && jobRerun.length > 0) {
    const mid = (v: number[]) => v[Math.floor(v.length / 2)]!;
    lines.push(
      `mailjobs inside the job (its durationMs: what a running worker spends, without Node's start-up): first run median ${s(mid(jobFirst))}, no-change rerun median ${s(mid(jobRerun))}, rerun / first **${((100 * mid(jobRerun)) / mid(jobFirst)).toFixed(1)}%**.`,
      '',
    );
  }
  const compared = rows.flatMap((r) => (r.rerunCompare ? [r.rerunCompare.wallMs] : [])).sort((a, b) => a - b);
  if (compared.length > 0)
    lines.push(
      `mailjobs no-change rerun with ${values['compare-cli']}: median ${s(compared[Math.floor(compared.length / 2)]!)} (${compared.map(s).join(', ')})`,
      '',
    );
  for (const r of rows.filter((x) => x.tool === 'mailjobs')) {
    const first = r.first.result;
    const rerun = r.rerun.result;
    if (first)
      lines.push(
        `mailjobs first run: durationMs ${String(first.durationMs)}, work \`${JSON.stringify(first.work)}\``,
      );
    if (rerun)
      lines.push(
        `mailjobs rerun: durationMs ${String(rerun.durationMs)}, work \`${JSON.stringify(rerun.work)}\``,
      );
  }
  lines.push('');
  return lines.join('\n');
}

process.once('SIGINT', () => {
  killChildren();
  process.exit(130);
});
await main();
