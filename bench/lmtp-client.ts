/**
 * Our LMTP client (src/mail/lmtp.ts) against nodemailer's SMTPConnection in LMTP mode, the
 * widest-used Node.js alternative: the same messages into the same private Dovecot, one
 * connection, one recipient per transaction, each client in a process of its own so that its
 * CPU time and peak RSS are its own. Runs alternate (ours, nodemailer, ours, ...) so a load
 * on the machine falls on both; the table gives medians and nodemailer/ours ratios.
 *
 *   npm run bench:lmtp [-- --rounds 5]
 */
import { spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { LmtpClient } from '../src/mail/lmtp.js';
import { startDovecot } from '../test/fixtures/dovecot.js';

type ClientName = 'ours' | 'nodemailer';

/** A message set: `count` messages of `size` bytes, given as Buffers or streamed from files. */
interface MessageSet {
  name: string;
  count: number;
  size: number;
  streamed: boolean;
}

const SETS: MessageSet[] = [
  { name: '2,000 × 4 KB', count: 2000, size: 4 * 1024, streamed: false },
  { name: '200 × 256 KB', count: 200, size: 256 * 1024, streamed: false },
  { name: '4 × 25 MB, streamed from files', count: 4, size: 25 * 1024 * 1024, streamed: true },
];

/** A plain-text message of about `size` bytes: 76-character lines, some starting with a dot. */
function message(size: number, n: number): Buffer {
  const head = `From: bench@example.org\r\nTo: user@example.com\r\nSubject: lmtp bench ${n}\r\nMessage-ID: <${n}.${size}@bench>\r\n\r\n`;
  const line = '.x'.padEnd(76, 'abcdefghij') + '\r\n';
  return Buffer.from(head + line.repeat(Math.max(1, Math.ceil((size - head.length) / line.length))));
}

interface ChildReport {
  wallMs: number;
  cpuMs: number;
  maxRssMb: number;
}

/** Child mode: deliver one set with one client, print the measurements as JSON. */
async function deliverSet(
  client: ClientName,
  port: number,
  user: string,
  set: MessageSet,
  dir: string,
): Promise<void> {
  const files = set.streamed
    ? Array.from({ length: set.count }, (_, i) => path.join(dir, `${set.size}-${i}.eml`))
    : [];
  const buffers = set.streamed ? [] : Array.from({ length: set.count }, (_, i) => message(set.size, i));
  const body = (i: number) => (set.streamed ? createReadStream(files[i]!) : buffers[i]!);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  if (client === 'ours') {
    const lmtp = new LmtpClient({ host: '127.0.0.1', port });
    await lmtp.connect();
    for (let i = 0; i < set.count; i++)
      await lmtp.deliver({ from: 'bench@example.org', to: user, message: body(i), size: set.size });
    await lmtp.close();
  } else {
    const smtp = new SMTPConnection({ host: '127.0.0.1', port, lmtp: true, name: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      smtp.once('error', reject);
      smtp.connect(() => resolve());
    });
    for (let i = 0; i < set.count; i++) {
      await new Promise<void>((resolve, reject) =>
        smtp.send({ from: 'bench@example.org', to: [user] }, body(i), (err, info) =>
          err || info.accepted.length !== 1
            ? reject(err ?? new Error(`refused: ${JSON.stringify(info)}`))
            : resolve(),
        ),
      );
    }
    smtp.quit();
  }
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  const report: ChildReport = {
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  };
  process.stdout.write(JSON.stringify(report));
}

function runChild(
  client: ClientName,
  port: number,
  user: string,
  set: number,
  dir: string,
): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const args = [
      '--import',
      'tsx',
      process.argv[1]!,
      '--child',
      client,
      '--port',
      String(port),
      '--user',
      user,
      '--set',
      String(set),
      '--dir',
      dir,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as ChildReport) : reject(new Error(`${client} exited ${code}`)),
    );
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      port: { type: 'string' },
      user: { type: 'string' },
      set: { type: 'string' },
      dir: { type: 'string' },
      rounds: { type: 'string', default: '3' },
    },
  });
  if (values.child) {
    const set = SETS[Number(values.set)]!;
    return deliverSet(values.child as ClientName, Number(values.port), values.user!, set, values.dir!);
  }
  const rounds = Number(values.rounds);
  if (!(rounds >= 1)) throw new Error('--rounds: a whole number ≥ 1');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailjobs-bench-lmtp-'));
  const dovecot = await startDovecot();
  try {
    for (const set of SETS.filter((s) => s.streamed)) {
      for (let i = 0; i < set.count; i++)
        writeFileSync(path.join(dir, `${set.size}-${i}.eml`), message(set.size, i));
    }
    const rows: string[] = [];
    for (const [index, set] of SETS.entries()) {
      const runs: Record<ClientName, ChildReport[]> = { ours: [], nodemailer: [] };
      for (let r = 0; r < rounds; r++) {
        for (const client of ['ours', 'nodemailer'] as const) {
          // A fresh user per run: each run's messages are counted in the mailbox they went to.
          const { user } = await dovecot.addUser(`b${index}${r}${client[0]}`);
          runs[client].push(await runChild(client, dovecot.lmtpPort, user, index, dir));
          const stored = await dovecot.storedMessages(user);
          if (stored !== set.count) throw new Error(`${client}: ${stored} of ${set.count} messages stored`);
        }
      }
      const m = (c: ClientName, k: keyof ChildReport) => median(runs[c].map((x) => x[k]));
      const ratio = (k: keyof ChildReport) => (m('nodemailer', k) / m('ours', k)).toFixed(2);
      rows.push(
        `| ${set.name} | ${fmt(m('ours', 'wallMs'))} | ${fmt(m('nodemailer', 'wallMs'))} | ${ratio('wallMs')} | ` +
          `${fmt(m('ours', 'cpuMs'))} | ${fmt(m('nodemailer', 'cpuMs'))} | ${ratio('cpuMs')} | ` +
          `${fmt(m('ours', 'maxRssMb'))} | ${fmt(m('nodemailer', 'maxRssMb'))} | ${ratio('maxRssMb')} |`,
      );
    }
    console.log(
      `LMTP into Dovecot ${dovecot.lmtpPort}, one connection, medians of ${rounds} alternating runs, ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}`,
    );
    console.log(
      '| messages | wall ms ours | wall ms nodemailer | ratio | CPU ms ours | CPU ms nodemailer | ratio | peak RSS MB ours | peak RSS MB nodemailer | ratio |',
    );
    console.log('| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: |');
    for (const row of rows) console.log(row);
  } finally {
    await dovecot.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench:lmtp: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
