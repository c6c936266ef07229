/**
 * `mailjobs status` after real getmail runs, as a monitor reads it: the `mailjobs` command run
 * as a process, its exit code (Nagios: 0 ok, 1 warning, 2 critical, 3 unknown), its first line
 * and `--json` with the run record's exact times.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { StatusRow } from '../../src/jobs/types.js';
import { freePort } from '../fixtures/ports.js';
import { freshPrefix, writeConfig } from '../helpers/runtime.js';
import { deliverTo, message, runGetmail, useWorld, writeWorldConfig, type ConnectorSpec } from './world.js';

const w = useWorld();

/** `mailjobs status getmail --config <file> [--json]` as a process: exit code and stdout. */
async function status(configFile: string, json: boolean) {
  const args = [
    '--import',
    'tsx',
    'src/cli.ts',
    'status',
    'getmail',
    '--config',
    configFile,
    ...(json ? ['--json'] : []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  return { code, out, err };
}

interface StatusJson {
  state: string;
  queues: { queue: string; targets: StatusRow[] }[];
}

async function getmailRows(configFile: string) {
  const r = await status(configFile, true);
  const parsed = JSON.parse(r.out) as StatusJson;
  const rows = parsed.queues.find((q) => q.queue === 'getmail')!.targets;
  return { code: r.code, state: parsed.state, row: (id: string) => rows.find((t) => t.target === id)! };
}

describe('mailjobs status, for a monitor', () => {
  it('ok after fetches; warning once an account fails; critical from the third failure in a row; a success clears it', async () => {
    const remote = await w.remote.addUser('r-watched');
    const local = await w.local.addUser('l-watched');
    await deliverTo(w.remote, remote.user, [message('watched-0'), message('watched-1')]);
    const good: ConnectorSpec = {
      id: 'good@remote.test',
      protocol: 'imap',
      user: remote.user,
      password: remote.password,
      deliverTo: local.user,
    };
    const flaky: ConnectorSpec = { ...good, id: 'flaky@remote.test', security: 'none' };
    const prefix = freshPrefix();
    // The flaky account's server does not answer (nothing listens on its port): a retry may help.
    const down = writeWorldConfig(w, [good, { ...flaky, port: await freePort() }], '', prefix);

    expect(await runGetmail(down, good.id)).toMatchObject({ code: 0, result: { delivered: 2 } });
    let s = await getmailRows(down);
    expect(s).toMatchObject({ code: 0, state: 'ok' });
    expect(s.row(good.id)).toMatchObject({
      severity: 'ok',
      summary: expect.stringMatching(/: ok \d+ s ago \(\d\d:\d\d\), 2 delivered$/),
      run: { consecutiveFailures: 0, lastOutcome: 'success', lastCounts: { delivered: 2, fetched: 2 } },
    });
    expect(s.row(good.id).run!.lastSuccessAt).toBeGreaterThan(Date.now() - 120_000);
    expect(s.row(flaky.id)).toMatchObject({ severity: 'ok', summary: expect.stringMatching(/: never run$/) });
    expect(s.row(flaky.id)).not.toHaveProperty('run');

    expect((await runGetmail(down, flaky.id)).code).toBe(1);
    s = await getmailRows(down);
    expect(s).toMatchObject({ code: 1, state: 'warning' });
    const first = s.row(flaky.id).run!;
    expect(s.row(flaky.id)).toMatchObject({
      severity: 'warning',
      summary: expect.stringMatching(/: failing \(1x\) since \d+ s ago \(\d\d:\d\d\): .*127\.0\.0\.1/),
      run: { consecutiveFailures: 1, lastOutcome: 'failure', lastErrorPermanent: false },
    });
    expect(first.failingSince).toBe(first.lastFailureAt);

    for (let i = 0; i < 2; i++) expect((await runGetmail(down, flaky.id)).code).toBe(1);
    s = await getmailRows(down);
    expect(s).toMatchObject({ code: 2, state: 'critical' });
    expect(s.row(flaky.id)).toMatchObject({
      severity: 'critical',
      run: { consecutiveFailures: 3, failingSince: first.failingSince },
    });
    expect(s.row(good.id).severity).toBe('ok');
    const text = await status(down, false);
    expect(text.code).toBe(2);
    expect(text.out.split('\n')[0]).toBe('MAILJOBS CRITICAL: 1 critical, 0 warning');
    expect(text.out).toMatch(
      /^ {2}! flaky@remote\.test {2}imap:\/\/127\.0\.0\.1 → l-watched: failing \(3x\) since /m,
    );
    expect(text.out).toMatch(/^ {4}good@remote\.test {2}imap:\/\/127\.0\.0\.1 → l-watched: ok /m);

    // The server is back: the next run succeeds, the streak ends, the last error stays visible.
    const up = writeWorldConfig(w, [good, flaky], '', prefix);
    expect((await runGetmail(up, flaky.id)).code).toBe(0);
    s = await getmailRows(up);
    expect(s).toMatchObject({ code: 0, state: 'ok' });
    expect(s.row(flaky.id)).toMatchObject({
      severity: 'ok',
      run: {
        consecutiveFailures: 0,
        lastOutcome: 'success',
        lastFailureAt: expect.any(Number),
        lastError: expect.stringContaining('127.0.0.1'),
      },
    });
    expect(s.row(flaky.id).run).not.toHaveProperty('failingSince');
  }, 120_000);

  it('exits 3, unknown, with one line saying why, when Redis does not answer', async () => {
    const file = writeConfig(`redis://127.0.0.1:${await freePort()}`, freshPrefix());
    const text = await status(file, false);
    expect(text.code).toBe(3);
    expect(text.out.trim().split('\n')).toEqual([
      expect.stringMatching(/^MAILJOBS UNKNOWN: Redis at redis:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/),
    ]);
    const json = await status(file, true);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.out)).toEqual({
      state: 'unknown',
      error: expect.stringContaining('ECONNREFUSED'),
    });
  }, 60_000);
});
