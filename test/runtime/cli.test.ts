/**
 * The command line as scripts see it: the real `mailjobs` process, its exit code and its stderr.
 * Help and usage errors of every command are checked in-process (the same `main`); what only
 * the process shows (the exit code of an error, no stack trace) by spawning it.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commandNames } from '../../src/cli/main.js';
import { REDIS_CHECK_TIMEOUT_MS } from '../../src/core/redis.js';
import { catalog } from '../../src/jobs/catalog.js';
import { freePort } from '../fixtures/ports.js';
import { usePrivateRedis } from '../helpers/private-redis.js';
import { freshPrefix, runCli, writeConfig } from '../helpers/runtime.js';
import { testJobs } from '../helpers/test-jobs.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const srv = usePrivateRedis();

/** `mailjobs <args>` as a process (the real job catalog): exit code, stdout, stderr lines. */
async function mailjobs(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MAILJOBS_LOG_PRETTY: '0' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  return { code, stdout, stderr: stderr.trimEnd().split('\n') };
}

describe('mailjobs --version and --help', () => {
  it('--version prints the package version and exits 0', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const r = await mailjobs(['--version']);
    expect(r).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: [''] });
  });

  it('every command has its own --help: its usage, its options and an example', async () => {
    for (const name of commandNames()) {
      const r = await runCli([...name.split(' '), '--help'], testJobs);
      expect(r.code, name).toBe(0);
      expect(r.out, name).toMatch(new RegExp(`^usage: mailjobs ${name}\\b`));
      expect(r.out, name).toContain('--config FILE');
      expect(r.out, name).toMatch(new RegExp(`\\nexample:\\n {2}mailjobs ${name}\\b`));
      expect(r.out, name).not.toContain('usage: mailjobs <command>'); // not the overview
    }
  });
});

describe('a mistake on the command line', () => {
  it('is one line naming it, then that command usage, exit 2, never a stack trace', async () => {
    const r = await mailjobs(['status', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr[0]).toBe("mailjobs status: Unknown option '--bogus'");
    expect(r.stderr[1]).toBe(
      'usage: mailjobs status [job...] [--json] [--sync [--filter F]] [--config FILE]',
    );
    expect(r.stderr.join('\n')).not.toMatch(/\n\s+at |TypeError|ERR_PARSE_ARGS/);
  });

  it('in-process, for each command: an option it does not take, a missing job, an unknown job', async () => {
    const cases: [string[], string, string][] = [
      [['dashboard', '--port', '9000'], 'dashboard', "Unknown option '--port'"],
      [['enqueue'], 'enqueue', 'a job name is required'],
      [['run', 'nope', '{}'], 'run', 'unknown job "nope"; known jobs: echo'],
      [['enqueue', 'echo', '{"target":"x"}', '--role', 'admin'], 'enqueue', "Unknown option '--role'"],
      [
        ['enqueue', 'echo', '{"target":"x"}', '--wait', '--timeout', 'soon'],
        'enqueue',
        '--timeout must be a whole number of seconds',
      ],
      [['run', 'echo', '{"target":'], 'run', 'the payload is not valid JSON'],
      [['config'], '', '"config" needs one of: config check'],
      [['bogus'], '', 'unknown command "bogus"'],
    ];
    for (const [argv, command, message] of cases) {
      const r = await runCli(argv, testJobs);
      const lines = r.err.split('\n');
      expect(r.code, argv.join(' ')).toBe(2);
      expect(lines[0], argv.join(' ')).toContain(`mailjobs${command ? ` ${command}` : ''}: ${message}`);
      expect(lines[1], argv.join(' ')).toMatch(/^usage: mailjobs /);
    }
  });
});

describe('Redis unreachable', () => {
  it("gives up within the command's own connect timeout (at most 5 s), in one line naming the URL, password masked", async () => {
    expect(REDIS_CHECK_TIMEOUT_MS).toBeLessThanOrEqual(4000); // plus a 0.5 s disconnect grace: within 5 s
    const port = await freePort(); // nothing listens there
    const file = writeConfig(`redis://:hunter2@127.0.0.1:${port}`, freshPrefix());
    const url = `redis://:***@127.0.0.1:${port}`;
    const line = `Redis at ${url}: connect ECONNREFUSED 127.0.0.1:${port}`;
    // status is a Nagios plugin: its one line goes to stdout, as monitors read it.
    const status = await mailjobs(['status', '--config', file]);
    expect(status.code).toBe(3);
    expect(status.stdout).toBe(`MAILJOBS UNKNOWN: ${line}\n`);
    for (const args of [['enqueue', 'bayes-stats', '{}'], ['run', 'bayes-stats', '{}'], ['worker']]) {
      const r = await mailjobs([...args, '--config', file]);
      expect(r.code, args[0]).toBe(3);
      expect(r.stderr, args[0]).toEqual([`mailjobs: ${line}`]);
      expect(r.stdout, args[0]).toBe('');
    }
  }, 120_000); // four processes under tsx: slow on a loaded machine; the bound above is the requirement
});

describe('Redis lost after the start-up check', () => {
  /**
   * A proxy to the test's Redis that passes the start-up check (its PING answered), then goes
   * down at the next command: Redis went away between the check and the command's work.
   */
  async function lostAfterCheck() {
    const proxy = await TcpProxy.start(Number(new URL(srv.url).port));
    let checked = false;
    void proxy.cutOn((p) => {
      if (p.direction === 'down' && p.chunk.includes('+PONG')) checked = true;
      const now = checked && p.direction === 'up';
      if (now) proxy.down();
      return now;
    });
    return proxy;
  }

  it('enqueue (with or without --wait) still says it in one line naming the URL and the cause, and exits 3', async () => {
    const cases = [
      ['enqueue', 'bayes-stats', '{}'],
      ['enqueue', 'bayes-stats', '{}', '--wait'],
    ];
    for (const args of cases) {
      const proxy = await lostAfterCheck();
      const file = writeConfig(`redis://127.0.0.1:${proxy.port}`, freshPrefix());
      const r = await mailjobs([...args, '--config', file]);
      await proxy.close();
      const line = new RegExp(`^Redis at redis://127\\.0\\.0\\.1:${proxy.port}: \\S`);
      const what = args.join(' ');
      expect(proxy.cuts, what).toBeGreaterThan(0); // the outage did happen
      expect(r.code, what).toBe(3);
      expect(r.stderr, what).toHaveLength(1);
      expect(r.stderr[0]!.replace('mailjobs: ', '')).toMatch(line);
      expect(`${r.stdout}${r.stderr.join('\n')}`).not.toContain('    at '); // no stack
    }
  }, 120_000);
});

describe('enqueue and run refuse what the config does not have', () => {
  it('an account or a sync task not in the config: exit 2, one line naming it, nothing queued', async () => {
    const prefix = freshPrefix();
    const file = writeConfig(srv.url, prefix);
    const cases: [string[], string][] = [
      [
        ['enqueue', 'getmail', '{"account":"nobody@example.com"}'],
        'getmail: no connector "nobody@example.com" in the config',
      ],
      [
        ['run', 'getmail', '{"account":"nobody@example.com"}'],
        'getmail: no connector "nobody@example.com" in the config',
      ],
      [['enqueue', 'imapsync', '{"task":"nothing"}'], `imapsync: no task "nothing" in the config's sync:`],
    ];
    const jobs = await Promise.all(catalog.map((e) => e.load()));
    for (const [argv, message] of cases) {
      const r = await runCli([...argv, '--config', file], jobs);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err.split('\n')[0]).toBe(`mailjobs ${argv[0]}: ${message}`);
      expect(r.out).toBe('');
    }
    expect(await srv.redis.keys(`{${prefix}}*`)).toEqual([]);
  });
});
