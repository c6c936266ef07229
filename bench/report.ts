/**
 * The bench's Markdown report: the throughput table side by side, then one line each for the
 * no-change poll, the cold-state rebuild, the many-accounts worker and the 50 MB message.
 */
import os from 'node:os';
import { run } from '../test/fixtures/service.js';
import type { CorpusMessage } from './corpus.js';
import type { ManyAccountsResult } from './many-accounts.js';
import { mib } from './measure.js';
import type { RebuildResult } from './rebuild.js';
import { ROOT, type ToolRun } from './tools.js';

/** One run of one tool; `failure` set means not timed (fewer delivered, or an error). */
export interface ThroughputRun {
  wallMs: number;
  peakRssKb: number | undefined;
  /** 1-minute load average when the run started (the machine may be shared). */
  load: number;
  /** The tool's own CPU time (user + system), ms. */
  cpuMs: number | undefined;
  /** The whole machine's busy CPU time during the run (tool + Dovecot + anything else), ms. */
  machineCpuMs: number | undefined;
  failure: string | undefined;
}

/** A tool's throughput runs over the same corpus. */
export interface ThroughputRow {
  tool: string;
  messages: number;
  /** Wire bytes (CRLF) of the corpus. */
  bytes: number;
  runs: ThroughputRun[];
}

/** The no-change poll: a first full fetch, then a run with nothing new. */
export interface PollResult {
  messages: number;
  first: ToolRun;
  second?: ToolRun;
  failure: string | undefined;
}

/** One 50 MB message fetched by mailjobs. */
export interface HugeResult {
  bytes: number;
  run: ToolRun;
  failure: string | undefined;
}

/** What {@link formatReport} puts together. */
export interface ReportInput {
  corpus: readonly CorpusMessage[];
  rows: readonly ThroughputRow[];
  poll: PollResult | undefined;
  rebuild: RebuildResult | undefined;
  many: ManyAccountsResult | undefined;
  huge: HugeResult | undefined;
  notes: readonly string[];
  versions: string;
  /** Which mailjobs was measured: commit, uncommitted changes, build time. */
  revision: string;
  seed: number;
  /** Throughput runs per tool. */
  runs: number;
}

/**
 * The mailjobs about to be built and measured: HEAD, how many files under src/ differ from it
 * (changed or new: the tree is shared), and when.
 */
export async function sourceRevision(): Promise<string> {
  const git = (args: string[]) =>
    run('git', ['-C', ROOT, ...args], { timeoutMs: 10_000 }).catch(() => undefined);
  const [head, dirty] = await Promise.all([
    git(['rev-parse', '--short', 'HEAD']),
    git(['status', '--porcelain', '--', 'src']),
  ]);
  const changed = dirty?.stdout.split('\n').filter(Boolean).length ?? 0;
  const at = new Date().toISOString();
  return `mailjobs ${head?.stdout.trim() || '(no git)'}${changed ? ` + ${changed} changed or new files in src/` : ''}, built by the bench at ${at}`;
}

/** First line of `command --version` style output for each tool, joined. */
export async function toolVersions(): Promise<string> {
  const first = async (cmd: string, args: string[]) => {
    try {
      const r = await run(cmd, args, { timeoutMs: 10_000 });
      return (
        (r.stdout + r.stderr)
          .split('\n')
          .find((l) => /\d+\.\d+/.test(l) && !/WARNING/.test(l))
          ?.trim() ?? '?'
      );
    } catch {
      return 'not installed';
    }
  };
  const [getmail, fetchmail, dovecot] = await Promise.all([
    first('getmail', ['--version']),
    first('fetchmail', ['--version']),
    first('dovecot', ['--version']),
  ]);
  return `Node ${process.version}, ${getmail}, ${fetchmail.replace(/\+.*/, '')}, Dovecot ${dovecot}`;
}

const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const int = (n: number) => n.toLocaleString('en-US');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median wall time when every run delivered the corpus exactly; undefined when one failed. */
function medianWall(row: ThroughputRow): number | undefined {
  if (row.runs.length === 0 || row.runs.some((r) => r.failure)) return undefined;
  return median(row.runs.map((r) => r.wallMs));
}

/** Median CPU milliseconds per message of a row's runs, for one of the two CPU measures. */
function perMessage(row: ThroughputRow, which: 'cpuMs' | 'machineCpuMs'): string {
  const values = row.runs.map((r) => r[which]).filter((v): v is number => v !== undefined);
  return values.length ? `${(median(values) / row.messages).toFixed(2)} ms` : 'n/a';
}

/**
 * What the machine's cores allow: every message costs the whole machine `machine CPU /
 * message` (the tool, Dovecot's pop3 and lmtp, Redis), so no tool can beat cores ÷ that here.
 */
function cpuCeiling(rows: readonly ThroughputRow[], cores = os.cpus().length): string[] {
  const lines: string[] = [];
  for (const r of rows) {
    const values = r.runs.map((x) => x.machineCpuMs).filter((v): v is number => v !== undefined);
    if (values.length === 0 || r.runs.some((x) => x.failure)) continue;
    const msPerMessage = median(values) / r.messages;
    lines.push(
      `- ${r.tool}: the machine spends ${msPerMessage.toFixed(2)} ms of CPU per message; ${cores} cores allow at most **${((cores * 1000) / msPerMessage).toFixed(0)} messages/s** this way.`,
    );
  }
  return lines;
}

function throughputTable(rows: readonly ThroughputRow[]): string[] {
  const base = rows.find((r) => r.tool === 'getmail6');
  const baseWall = base ? medianWall(base) : undefined;
  const lines = [
    '| tool | messages/s | MB/s | peak RSS | ratio vs getmail6 | wall | tool CPU / message | machine CPU / message | load avg | result |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const r of rows) {
    const wall = medianWall(r);
    const rss = mib(Math.max(...r.runs.map((x) => x.peakRssKb ?? 0)) || undefined);
    const load = r.runs.map((x) => x.load.toFixed(1)).join(', ');
    if (wall === undefined) {
      const why = r.runs.map((x, i) => (x.failure ? `run ${i + 1}: ${x.failure}` : '')).filter(Boolean);
      lines.push(
        `| ${r.tool} | — | — | ${rss} | — | — | — | — | ${load} | **failed**: ${why.join('; ').replace(/\|/g, '\\|')} |`,
      );
      continue;
    }
    const perSecond = r.messages / (wall / 1000);
    const mbs = r.bytes / 1e6 / (wall / 1000);
    const ratio = baseWall ? `${(baseWall / wall).toFixed(2)}×` : 'n/a';
    const walls = r.runs.length > 1 ? ` (median of ${r.runs.map((x) => sec(x.wallMs)).join(', ')})` : '';
    lines.push(
      `| ${r.tool} | ${perSecond.toFixed(1)} | ${mbs.toFixed(2)} | ${rss} | ${ratio} | ${sec(wall)}${walls} | ${perMessage(r, 'cpuMs')} | ${perMessage(r, 'machineCpuMs')} | ${load} | ok: ${int(r.messages)} delivered, once each |`,
    );
  }
  return lines;
}

function pollLine(p: PollResult | undefined): string {
  if (!p) return '- No-change poll: did not run (see notes).';
  const first = `first fetch of ${int(p.messages)} small messages took ${sec(p.first.wallMs)} (${(p.messages / (p.first.wallMs / 1000)).toFixed(0)} messages/s, peak RSS ${mib(p.first.peakRssKb)})`;
  if (p.failure || !p.second?.result)
    return `- No-change poll: **failed** (${p.failure ?? 'no result'}); ${first}.`;
  return (
    `- No-change poll of an account with ${int(p.messages)} messages already fetched: job durationMs ` +
    `**${String(p.second.result.durationMs)} ms**, whole \`mailjobs run\` process **${sec(p.second.wallMs)}**, ` +
    `peak RSS ${mib(p.second.peakRssKb)}, fetched ${String(p.second.result.fetched)}. (${first}.)`
  );
}

function rebuildLine(r: RebuildResult | undefined): string {
  if (!r) return '- Cold-state rebuild: did not run (see notes).';
  const head = `- Cold-state rebuild, ${int(r.messages)} messages`;
  if (r.failure || !r.rebuild) return `${head}: **failed** (${r.failure ?? 'no rebuild logged'}).`;
  return (
    `${head} fetched before, no state in Redis: rebuilt in **${r.rebuild.durationMs} ms** (the job's own ` +
    `timing: LIST, then UID SEARCH HEADER and the trace field of every folder), then nothing fetched; ` +
    `whole \`mailjobs run\` process ${sec(r.run.wallMs)}.`
  );
}

function manyLine(m: ManyAccountsResult | undefined): string {
  if (!m) return '- Many accounts: did not run (see notes).';
  const total = m.accounts * m.messagesEach;
  const ok = m.completed === m.accounts && m.delivered === total && m.wrongAccounts === 0;
  const head = `- ${m.accounts} accounts × ${m.messagesEach} messages, one \`mailjobs worker\` with getmail concurrency ${m.accounts}`;
  const retried = m.failedAttempts
    ? ` (after ${m.failedAttempts} failed attempts, retried with backoff)`
    : '';
  const counts = `${m.completed} completed${retried}, ${m.failed} failed, ${m.unfinished} unfinished; ${int(m.delivered)}/${int(total)} messages in the mailboxes${m.wrongAccounts ? `, ${m.wrongAccounts} accounts wrong` : ''}`;
  const jobs = m.jobMs ? ` Job durationMs: median ${m.jobMs.median}, max ${m.jobMs.max}.` : '';
  const limits = m.dovecotLimits.length
    ? ` Dovecot: ${m.dovecotLimits.map((l) => `\`${l}\``).join('; ')}.`
    : '';
  const warned = m.problems.length ? ` Worker warnings: ${m.problems.join('; ')}.` : '';
  const problems = `${jobs}${limits}${warned}`;
  return ok
    ? `${head}: all done in **${sec(m.wallMs)}** (${(m.accounts / (m.wallMs / 1000)).toFixed(1)} accounts/s, ${(total / (m.wallMs / 1000)).toFixed(0)} messages/s); ${counts}; worker peak RSS **${mib(m.peakRssKb)}**.${problems}`
    : `${head}: **failed** after ${sec(m.wallMs)}: ${counts}; worker peak RSS ${mib(m.peakRssKb)}.${problems}`;
}

function hugeLine(h: HugeResult | undefined, baselineKb: number | undefined): string {
  if (!h) return '- 50 MB message: did not run (see notes).';
  const mb = (h.bytes / 2 ** 20).toFixed(0);
  if (h.failure)
    return `- One ${mb} MiB message: **failed** (${h.failure}); peak RSS ${mib(h.run.peakRssKb)}.`;
  const over =
    baselineKb && h.run.peakRssKb
      ? `, ${mib(h.run.peakRssKb - baselineKb)} above a run that fetched nothing (${mib(baselineKb)})`
      : '';
  return `- One ${mb} MiB message fetched by mailjobs: peak RSS **${mib(h.run.peakRssKb)}** (3 × 50 MiB = 150 MiB)${over}; wall ${sec(h.run.wallMs)}.`;
}

/** The whole report, Markdown. */
export function formatReport(r: ReportInput): string {
  const kinds = new Map<string, number>();
  for (const m of r.corpus) kinds.set(m.kind, (kinds.get(m.kind) ?? 0) + 1);
  const mix = [...kinds].map(([k, n]) => `${n} ${k}`).join(', ');
  const wire = r.corpus.reduce((s, m) => s + m.wireSize, 0);
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return [
    '# getmail bench',
    '',
    `${new Date().toISOString()} · ${os.cpus().length} × ${cpu} · ${r.versions}.`,
    `${r.revision}.`,
    'Everything on 127.0.0.1: plain POP3 from a private Dovecot ("remote"), LMTP (TCP) into another ("local"), a private Redis.',
    `Each tool fetches its own copy of the same corpus into a fresh local user (${r.runs === 1 ? 'one run each' : `${r.runs} runs each, round-robin, median shown`}), timed from process start to exit; peak RSS of the tool's process. "load avg": the machine's 1-minute load when the run started.`,
    '',
    `Corpus (seed ${r.seed}): ${int(r.corpus.length)} messages, ${(wire / 1e6).toFixed(1)} MB on the wire (${mix}; text 2–20 KB, html and attachment 100–300 KB, big ≈ 1.4 MB with a 1 MB base64 attachment).`,
    '',
    '## Throughput',
    '',
    ...throughputTable(r.rows),
    '',
    '"tool CPU": user + system of the tool and its children (GNU time). "machine CPU": what the whole machine was busy during the run (/proc/stat, every core): the tool plus Dovecot\'s pop3 and lmtp processes, plus anything else running.',
    '',
    ...cpuCeiling(r.rows),
    '',
    '## mailjobs at scale',
    '',
    pollLine(r.poll),
    rebuildLine(r.rebuild),
    manyLine(r.many),
    hugeLine(r.huge, r.poll?.second?.peakRssKb),
    '',
    ...(r.notes.length ? ['## Notes', '', ...r.notes, ''] : []),
  ].join('\n');
}
