/**
 * A scheduled job whose program this host lacks is off at start-up: `mailjobs scheduler` with a
 * PATH (and a postfix.commandDirectory) that holds only a freshclam keeps freshclam's schedule,
 * leaves queue-monitor and spam-expunge (doveadm) unscheduled, and says so in one info line each,
 * naming the setting that turns them on; no failure is logged for them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { closeQueues, openQueues } from '../../src/core/queues.js';
import { contracts } from '../../src/jobs/contracts.js';
import { usePrivateRedis } from '../helpers/private-redis.js';
import { freshPrefix, writeConfig } from '../helpers/runtime.js';

const srv = usePrivateRedis();
let child: ChildProcess | undefined;
afterAll(() => {
  if (child?.exitCode === null) child.kill('SIGKILL');
});

it('queue-monitor without postqueue and spam-expunge without doveadm are off, with one line each; freshclam found in PATH runs', async () => {
  const bin = mkdtempSync(path.join(tmpdir(), 'mailjobs-path-'));
  writeFileSync(path.join(bin, 'freshclam'), '#!/bin/sh\nexit 0\n');
  chmodSync(path.join(bin, 'freshclam'), 0o755);
  const prefix = freshPrefix();
  const file = writeConfig(srv.url, prefix, `postfix: { commandDirectory: ${bin} }\n`);
  child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'scheduler', '--config', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PATH: bin, MAILJOBS_LOG_PRETTY: '0' },
  });
  let stdout = '';
  child.stdout!.on('data', (d) => (stdout += d));
  const lines = () =>
    stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { level: number; msg: string; job?: string });
  await expect.poll(() => lines().some((l) => l.msg === 'mailjobs running'), { timeout: 60_000 }).toBe(true);

  const off = lines().filter((l) => l.msg.includes('is off on this host'));
  expect(off.map((l) => [l.job, l.level])).toEqual([
    ['spam-expunge', 30],
    ['queue-monitor', 30],
  ]);
  expect(off[1]!.msg).toBe(
    `queue-monitor is off on this host: "${bin}/postqueue" not found (postfix.commandDirectory); ` +
      'to turn it on, install Postfix or set postfix.commandDirectory, then restart or send SIGHUP',
  );
  expect(off[0]!.msg).toContain(
    '"doveadm" not found in PATH (spamExpunge.doveadm (or a spamExpunge.users list))',
  );
  // Warnings about the test Redis (no password, no persistence) are not the jobs' business.
  const aboutJobs = /queue-monitor|spam-expunge|freshclam|postqueue|doveadm/;
  expect(lines().filter((l) => l.level >= 40 && aboutJobs.test(JSON.stringify(l)))).toEqual([]);

  const queues = openQueues(Object.values(contracts), srv.url, prefix);
  try {
    const scheduled = async (name: string) => (await queues.get(name)!.getJobSchedulers()).map((s) => s.key);
    expect(await scheduled('queue-monitor')).toEqual([]);
    expect(await scheduled('spam-expunge')).toEqual([]);
    expect(await scheduled('freshclam')).toEqual(['config:freshclam']);
  } finally {
    await closeQueues(queues);
  }
  child.kill('SIGTERM');
  expect(await new Promise((r) => child!.once('exit', r))).toBe(0);
}, 120_000);
