/**
 * `mailjobs scheduler` (the real CLI and registry) reconciles at start and again on SIGHUP:
 * a connector added to the config gets its schedule and an immediate fetch job.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { closeQueues, openQueues } from '../../src/core/queues.js';
import { registry } from '../../src/jobs/registry.js';
import { usePrivateRedis } from '../helpers/private-redis.js';
import { freshPrefix, writeConfig } from '../helpers/runtime.js';

const srv = usePrivateRedis();

const connector = (id: string) =>
  `connectors:\n  - { id: ${id}, protocol: imap, host: 127.0.0.1, username: u, password: p, deliverTo: u, intervalMinutes: 15 }\n`;

it('SIGHUP reloads the config: a new connector is scheduled and fetched at once; SIGTERM exits 0', async () => {
  const prefix = freshPrefix();
  const file = writeConfig(srv.url, prefix, 'connectors: []\n');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'scheduler', '--config', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const queues = openQueues(registry, srv.url, prefix);
  const getmail = queues.get('getmail')!;
  try {
    await expect.poll(() => out, { timeout: 20_000 }).toContain('mailjobs running');
    expect(await getmail.getJobSchedulers()).toEqual([]);

    writeFileSync(file, `redis: { url: "${srv.url}", prefix: ${prefix} }\n${connector('new@remote.test')}`);
    child.kill('SIGHUP');
    await expect
      .poll(async () => (await getmail.getJobSchedulers()).map((s) => s.key), { timeout: 10_000 })
      .toEqual(['config:getmail:new@remote.test']);
    const scheduler = (await getmail.getJobSchedulers())[0]!;
    expect(Number(scheduler.every)).toBe(15 * 60_000);
    expect((await getmail.getWaiting()).map((j) => j.data)).toEqual([{ account: 'new@remote.test' }]);

    // A broken config on SIGHUP is reported and the running schedules stay.
    writeFileSync(file, 'connectors: [ { id: 1 } ]\n');
    child.kill('SIGHUP');
    await expect
      .poll(() => out, { timeout: 10_000 })
      .toContain('config reload failed; keeping the running config');
    expect((await getmail.getJobSchedulers()).map((s) => s.key)).toEqual(['config:getmail:new@remote.test']);
  } finally {
    child.kill('SIGTERM');
    const code = await new Promise((r) =>
      child.exitCode !== null ? r(child.exitCode) : child.once('exit', r),
    );
    expect(code).toBe(0);
    await closeQueues(queues);
  }
});

it('a worker reloads on SIGHUP too (a broken file is reported, not fatal); SIGTERM exits 0', async () => {
  const prefix = freshPrefix();
  const file = writeConfig(srv.url, prefix, 'connectors: []\n');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'worker', '--config', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const exit = new Promise<number | string | null>((r) => child.once('exit', (c, s) => r(c ?? s)));
  try {
    await expect.poll(() => out, { timeout: 20_000 }).toContain('mailjobs running');
    writeFileSync(file, 'connectors: [ { id: 1 } ]\n');
    child.kill('SIGHUP');
    await expect
      .poll(() => out, { timeout: 10_000 })
      .toContain('config reload failed; keeping the running config');
    expect(child.exitCode).toBeNull();
    expect(child.signalCode).toBeNull();
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exit).toBe(0);
});
