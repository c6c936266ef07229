/**
 * `npx tsx bench/imapsync-startup.ts --cli A.js [--cli B.js ...]`: what a cold `mailjobs` process
 * costs before any work, per build: `--help`, and a no-change rerun of `run imapsync` on an
 * account already synchronised (`--messages` small messages in 4 folders, default 1,000). Uses
 * hyperfine (Debian package) and reports wall time and CPU time (user + system), which a
 * shared, busy machine disturbs far less than wall time.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { makeMessage, seed } from '../test/imapsync/corpus.js';
import { startDovecot } from '../test/fixtures/dovecot.js';
import { startRedis } from '../test/fixtures/redis.js';

const { values } = parseArgs({
  options: {
    cli: { type: 'string', multiple: true, default: [] },
    messages: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '15' },
  },
});
if (values.cli.length === 0) throw new Error('give at least one --cli path/to/cli.js');

interface Row {
  command: string;
  mean: number;
  median: number;
  user: number;
  system: number;
}

function hyperfine(commands: string[]): Row[] {
  const json = path.join(tmpdir(), `hyperfine-${process.pid}.json`);
  const r = spawnSync('hyperfine', ['-N', '-w', '2', '-r', values.runs, '--export-json', json, ...commands], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, MAILJOBS_LOG_LEVEL: 'warn' },
  });
  if (r.status !== 0) throw new Error(`hyperfine failed (${String(r.status)})`);
  const out = JSON.parse(spawnSync('cat', [json]).stdout.toString()) as { results: Row[] };
  rmSync(json, { force: true });
  return out.results;
}

const [redis, remote, local] = await Promise.all([
  startRedis(),
  startDovecot({ separator: '.', specialUse: false }),
  startDovecot({ separator: '/' }),
]);
const dir = mkdtempSync(path.join(tmpdir(), 'mailjobs-bench-startup-'));
try {
  const src = await remote.addUser('r-startup', 'startup-password');
  const dst = await local.addUser('l-startup');
  const folders = ['INBOX', 'Archiv', 'Sent', 'Lists'];
  const count = Number(values.messages);
  await seed(
    remote,
    src.user,
    Array.from({ length: count }, (_, i) => ({
      folder: folders[i % folders.length]!,
      raw: makeMessage(`startup-${i}`),
      flags: i % 3 ? [] : ['\\Seen'],
      internalDate: new Date(Date.UTC(2020, 0, 1) + i * 60_000),
    })),
  );
  const secret = path.join(dir, 'remote.password');
  writeFileSync(secret, src.password, { mode: 0o600 });
  const config = path.join(dir, 'mailjobs.yaml');
  writeFileSync(
    config,
    [
      `redis: { url: "${redis.url}", prefix: startup${process.pid} }`,
      'dovecot:',
      `  imap: { host: 127.0.0.1, port: ${local.imapPort}, security: none }`,
      `  masterPasswordFile: ${local.masterPasswordFile}`,
      'sync:',
      '  - id: bench',
      `    localUser: ${dst.user}`,
      `    remote: { host: 127.0.0.1, port: ${remote.imapPort}, security: none, username: ${src.user}, passwordFile: ${secret} }`,
      '',
    ].join('\n'),
  );
  const run = (cli: string) => `node ${cli} run imapsync '{"task":"bench"}' --config ${config}`;
  const first = spawnSync('node', [
    values.cli[0]!,
    'run',
    'imapsync',
    '{"task":"bench"}',
    '--config',
    config,
  ]);
  const result = JSON.parse(first.stdout.toString().trim().split('\n').at(-1) ?? '{}') as Record<
    string,
    unknown
  >;
  process.stdout.write(`first run: copied ${String(result.copied)} of ${String(result.messagesOnSource)}\n`);
  const rows = [
    ...hyperfine(values.cli.map((c) => `node ${c} --help`)),
    ...hyperfine(values.cli.map(run)),
    ...hyperfine(['node -e 0']),
  ];
  const ms = (s: number) => `${Math.round(s * 1000)} ms`;
  process.stdout.write(
    [
      '',
      `${count} messages in ${folders.length} folders, ${values.runs} runs each (hyperfine -N, 2 warm-up)`,
      '| command | wall median | wall mean | CPU (user + system) |',
      '| --- | ---: | ---: | ---: |',
      ...rows.map(
        (r) =>
          `| \`${r.command.replace(config, 'CONFIG')}\` | ${ms(r.median)} | ${ms(r.mean)} | ${ms(r.user + r.system)} |`,
      ),
      '',
    ].join('\n'),
  );
} finally {
  await Promise.allSettled([remote.stop(), local.stop()]);
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
