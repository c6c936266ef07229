/**
 * Redis is the trust boundary: against a Redis that wants a login (an ACL user, its password in
 * `redis.passwordFile`) and one that speaks only TLS (`rediss://`, `redis.tls`), the workers, a
 * job end to end, `mailjobs enqueue`/`status` and a dashboard session all work; without the
 * login each stops with one line. Start-up warns about a TCP Redis that lets anyone in.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { connectPipeRedis } from '../../src/jobs/bayes-learn/pipe-redis.js';
import { readPipeSettings } from '../../src/jobs/bayes-learn/pipe-settings.js';
import { announceRedis, openRuntime } from '../../src/runtime.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { ADMIN, dashboardConfigLine, httpLogin, startTestDashboard } from '../helpers/dashboard.js';
import { freshPrefix, runCli, silentLog, startTestWorkers, writeConfig } from '../helpers/runtime.js';
import { testJobs } from '../helpers/test-jobs.js';

/** The README's ACL user, for the test prefixes (`{t...}`, see freshPrefix). */
const ACL = {
  name: 'mailjobs',
  password: 'acl pass 1',
  rules: ['~{t*', '&{t*', '+@all', '-@dangerous', '+info', '+config|get', '+client|list'],
};
let acl: RedisFixture;
let tls: RedisFixture;
let open: RedisFixture;
beforeAll(async () => {
  [acl, tls, open] = await Promise.all([
    startRedis({ password: 'default user pass', aclUser: ACL }),
    startRedis({ tls: true }),
    startRedis(),
  ]);
});
afterAll(async () => {
  await Promise.all([acl?.stop(), tls?.stop(), open?.stop()]);
});

/** A password file beside nothing else, as an admin would make it. */
function passwordFile(password: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'mailjobs-redis-pass-')), 'redis.pass');
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return file;
}

/** Workers as `mailjobs worker` starts them, for `configFile`; one echo job through `enqueue --wait`. */
async function jobEndToEnd(configFile: string) {
  const rt = await openRuntime({
    configFlag: configFile,
    jobs: testJobs,
    log: silentLog,
    startPrivateRedis: false,
  });
  const set = startTestWorkers(rt, testJobs);
  try {
    await set.cancelListening; // the cancel subscriber logged in too
    const payload = JSON.stringify({ target: 'login-check', steps: 2 });
    const run = await runCli(['enqueue', 'echo', payload, '--wait', '--config', configFile], testJobs);
    expect(run).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(run.out)).toMatchObject({ target: 'login-check', steps: 2 });
    const status = await runCli(['status', '--config', configFile], testJobs);
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/echo: waiting 0 {2}active 0 {2}delayed 0 {2}completed 1 {2}failed 0/);
  } finally {
    await set.close();
    await rt.close();
  }
}

/** `mailjobs <args>` as a process: exit code and stderr. */
async function cliProcess(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  return { code, stderr };
}

describe('a Redis with an ACL user and a password', () => {
  it('workers, a job end to end, `enqueue --wait` and `status` log in with redis.username and passwordFile', async () => {
    const file = writeConfig(
      acl.url,
      freshPrefix(),
      '',
      `username: ${ACL.name}, passwordFile: ${passwordFile(ACL.password)}`,
    );
    await jobEndToEnd(file);
  });

  it('a dashboard session lives in that Redis; /readyz sees the workers, /metrics answers', async () => {
    const file = writeConfig(
      acl.url,
      freshPrefix(),
      await dashboardConfigLine(),
      `username: ${ACL.name}, passwordFile: ${passwordFile(ACL.password)}`,
    );
    const dash = await startTestDashboard(file, testJobs);
    const { rt } = dash;
    const set = startTestWorkers(rt, testJobs);
    try {
      const session = await httpLogin(dash.url, ADMIN);
      expect((await session.call('GET', '/connectors')).status).toBe(200);
      // BullMQ lists workers with CLIENT LIST, which the README's ACL line allows.
      await expect
        .poll(async () => (await fetch(`${dash.url}/readyz`)).status, { timeout: 10_000 })
        .toBe(200);
      const metrics = await session.call('GET', '/metrics');
      expect([metrics.status, await metrics.text()]).toEqual([
        200,
        expect.stringContaining('mailjobs_queue_workers{queue="echo"} 1'),
      ]);
    } finally {
      await set.close();
      await dash.close();
    }
  });

  it('without the login, or with a wrong one, every command stops with one line saying what to set', async () => {
    const none = writeConfig(acl.url, freshPrefix());
    const wrong = writeConfig(
      acl.url,
      freshPrefix(),
      '',
      `username: ${ACL.name}, passwordFile: ${passwordFile('not it')}`,
    );
    const hint = 'set redis.username and redis.passwordFile in the config (or the password in REDIS_URL)';
    for (const args of [['enqueue', 'echo', '{"target":"x"}'], ['worker']]) {
      await expect(runCli([...args, '--config', none], testJobs)).rejects.toThrow(
        new ConfigError(`Redis at ${acl.url}: NOAUTH Authentication required.: ${hint}`),
      );
    }
    await expect(startTestDashboard(none, testJobs)).rejects.toThrow(/NOAUTH Authentication required/);
    // `status` answers as a monitor expects: unknown (exit 3), the reason on its one line.
    expect(await runCli(['status', '--config', none], testJobs)).toMatchObject({
      code: 3,
      out: `MAILJOBS UNKNOWN: Redis at ${acl.url}: NOAUTH Authentication required.: ${hint}`,
    });
    const wrongStatus = await runCli(['status', '--config', wrong], testJobs);
    expect(wrongStatus.code).toBe(3);
    expect(wrongStatus.out).toMatch(
      /^MAILJOBS UNKNOWN: Redis at redis:\/\/127\.0\.0\.1:\d+: WRONGPASS invalid username-password pair/,
    );
    const cli = await cliProcess(['worker', '--config', none]);
    expect(cli.code).toBe(2);
    expect(cli.stderr.trim().split('\n')).toEqual([
      `mailjobs: Redis at ${acl.url}: NOAUTH Authentication required.: ${hint}`,
    ]);
  });
  it("mailjobs-learn's producer reads the same login from the config file (and is refused without it)", async () => {
    const login = writeConfig(
      acl.url,
      freshPrefix(),
      '',
      `username: ${ACL.name}, passwordFile: ${passwordFile(ACL.password)}`,
    );
    for (const [file, answer] of [
      [login, 'PONG'],
      [writeConfig(acl.url, freshPrefix()), 'NOAUTH'],
    ] as const) {
      const settings = readPipeSettings(file, {});
      expect(settings.problems).toEqual([]);
      const redis = connectPipeRedis(settings);
      try {
        expect(await redis.ping().catch((err: Error) => err.message)).toMatch(new RegExp(`^${answer}`));
      } finally {
        redis.disconnect();
      }
    }
  });
});

describe('a Redis that speaks only TLS', () => {
  it('is reached over rediss:// with redis.tls.caFile (and the client certificate it asks for)', async () => {
    const { cert, key } = tls.tlsFiles!;
    const file = writeConfig(
      tls.url,
      freshPrefix(),
      '',
      `tls: { caFile: ${cert}, certFile: ${cert}, keyFile: ${key} }`,
    );
    expect(tls.url).toMatch(/^rediss:\/\//);
    await jobEndToEnd(file);
  });

  it('without the CA file the certificate is refused, in one line', async () => {
    const { cert, key } = tls.tlsFiles!;
    const file = writeConfig(tls.url, freshPrefix(), '', `tls: { certFile: ${cert}, keyFile: ${key} }`);
    const status = await runCli(['status', '--config', file], testJobs);
    expect(status.code).toBe(3);
    expect(status.out).toMatch(
      new RegExp(`^MAILJOBS UNKNOWN: Redis at ${tls.url}: .*self-signed certificate`),
    );
  });
});

describe('start-up warning', () => {
  /** What `announceRedis` logs at warn level for `configFile`. */
  async function warnings(configFile: string): Promise<string[]> {
    const lines: { level: number; msg: string }[] = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const rt = await openRuntime({ configFlag: configFile, jobs: [], log, startPrivateRedis: false });
    try {
      await announceRedis(rt);
    } finally {
      await rt.close();
    }
    return lines.filter((l) => l.level === 40).map((l) => l.msg);
  }

  it('warns once when a TCP Redis lets anyone in (and `status` says so); not when it wants a login', async () => {
    const openFile = writeConfig(open.url, freshPrefix());
    const warning = `Redis at ${open.url} accepts connections without a password over TCP: whoever reaches its port can read and change every job; set requirepass or an ACL user (README: Redis login and TLS)`;
    expect((await warnings(openFile)).filter((w) => /without a password/.test(w))).toEqual([warning]);
    expect((await runCli(['status', '--config', openFile], testJobs)).out).toContain(`warning: ${warning}`);
    const guarded = writeConfig(
      acl.url,
      freshPrefix(),
      '',
      `username: ${ACL.name}, passwordFile: ${passwordFile(ACL.password)}`,
    );
    expect((await warnings(guarded)).filter((w) => /without a password/.test(w))).toEqual([]);
  });
});
