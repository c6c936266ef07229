import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseFreshclamOutput, runFreshclam } from './freshclam.js';

// Outputs captured from freshclam 1.4.6 (`--stdout`) against a local mirror, and from the
// ClamAV CDN (official databases, cool-down).
const UPDATED = `ClamAV update process started at Wed Nov 25 09:41:06 2026
WARNING: Can't query no
WARNING: Invalid DNS reply. Falling back to HTTP mode.
Testing database: '/tmp/exp/db/tmp.0209f1f7db/clamav-7ba7.tmp-extra.hdb' ...
Database test passed.
extra.hdb updated (version: custom database, sigs: 1)
daily.cld updated (version: 27150, sigs: 2050000, f-level: 90, builder: virusdb)
main.cvd database is up-to-date (version: 62, sigs: 6647427, f-level: 90, builder: sigmgr)
daily.cud is up-to-date (version: custom database)
Clamd successfully notified about the update.
`;
const MIRROR_DOWN = `ClamAV update process started at Wed Nov 25 09:44:23 2026
WARNING: Download failed (7) WARNING:  Message: Couldn't connect to server
WARNING: Can't download extra.hdb from http://127.0.0.1:18080/extra.hdb
Trying again in 5 secs...
ERROR: Download failed (7) ERROR:  Message: Couldn't connect to server
ERROR: Can't download extra.hdb from http://127.0.0.1:18080/extra.hdb
Update failed for custom database URL: http://127.0.0.1:18080/extra.hdb
WARNING: fc_download_url_databases: fc_download_url_database failed: Connection failed (5)
ERROR: Database update process failed: Connection failed
ERROR: Update failed.
`;
const TEST_FAILED = `Testing database: '/tmp/exp/db/tmp.29f4/clamav-8622.tmp-extra.hdb' ...
WARNING: [LibClamAV] cli_loadhash: Problem parsing database at line 1
ERROR: Failed to load new database: Malformed database
ERROR: Database test FAILED.
ERROR: Database update process failed: Test failed
ERROR: Update failed.
`;
const COOL_DOWN = `ClamAV update process started at Tue Mar  3 10:15:00 2026
WARNING: FreshClam previously received error code 429 or 403 from the ClamAV Content Delivery Network (CDN).
WARNING: This means that you have been rate limited or blocked by the CDN.
WARNING: You are still on cool-down until after: 2026-03-06 10:15:00
`;

describe('parseFreshclamOutput', () => {
  it('lists updated and up-to-date databases, with versions and signatures, and the clamd notice', () => {
    const r = parseFreshclamOutput(UPDATED, 0);
    expect(r.databases).toEqual([
      { name: 'extra.hdb', status: 'updated', signatures: 1 },
      { name: 'daily.cld', status: 'updated', version: 27150, signatures: 2050000 },
      { name: 'main.cvd', status: 'up-to-date', version: 62, signatures: 6647427 },
      { name: 'daily.cud', status: 'up-to-date' },
    ]);
    expect(r.clamdNotified).toBe(true);
    expect(r.problem).toBeUndefined();
    expect(r.warnings).toContain('Invalid DNS reply. Falling back to HTTP mode.');
  });

  it('reads the log-file form too (LogTime prefix, ^ and ! markers)', () => {
    const r = parseFreshclamOutput(
      'Mon Sep 23 10:37:11 2019 -> bytecode.cvd is up to date (version: 331, sigs: 94, f-level: 63, builder: anvilleg)\n' +
        "Mon Sep 23 10:37:16 2019 -> ^Clamd was NOT notified: Can't connect to clamd through /var/run/clamav/clamd.ctl\n",
      0,
    );
    expect(r.databases).toEqual([
      { name: 'bytecode.cvd', status: 'up-to-date', version: 331, signatures: 94 },
    ]);
    expect(r.clamdNotified).toBe(false);
  });

  it('classifies an unreachable mirror as retryable, with the URL in the message', () => {
    const r = parseFreshclamOutput(MIRROR_DOWN, 5);
    expect(r.problem).toMatchObject({ code: 'EMIRROR', retryable: true });
    expect(r.problem!.message).toMatch(/^the mirror could not be reached: .*Couldn't connect to server/);
    expect(r.problem!.message).toContain("Can't download extra.hdb from http://127.0.0.1:18080/extra.hdb");
    expect(r.problem!.message).not.toContain('Update failed.');
  });

  it('classifies a database that fails its test as permanent', () => {
    expect(parseFreshclamOutput(TEST_FAILED, 8).problem).toMatchObject({
      code: 'ETESTFAILED',
      retryable: false,
      message: expect.stringContaining('Malformed database'),
    });
  });

  it('treats "still on cool-down" as a failure although freshclam exits 0', () => {
    expect(parseFreshclamOutput(COOL_DOWN, 0).problem).toEqual({
      code: 'ECOOLDOWN',
      retryable: false,
      until: '2026-03-06 10:15:00',
      message: 'the ClamAV CDN rate-limited this server: until after 2026-03-06 10:15:00',
    });
  });

  it('tells a config error from another freshclam holding the lock (both exit 2)', () => {
    const conf = parseFreshclamOutput(
      "ERROR: Can't open/parse the config file /etc/clamav/freshclam.conf\n",
      2,
    );
    expect(conf.problem).toMatchObject({ code: 'ECONFIG', retryable: false });
    const locked = parseFreshclamOutput(
      'ERROR: Failed to lock the log file /var/log/clamav/freshclam.log: Resource temporarily unavailable\nERROR: Initialization error!\n',
      2,
    );
    expect(locked.problem).toMatchObject({ code: 'ELOCKED', retryable: true });
  });
});

describe('runFreshclam', () => {
  function fake(script: string): { command: string; args: () => string[] } {
    const dir = mkdtempSync(join(tmpdir(), 'mailjobs-fakefreshclam-'));
    const command = join(dir, 'freshclam');
    writeFileSync(command, `#!/bin/sh\nprintf '%s\\n' "$@" > "$(dirname "$0")/args"\n${script}\n`);
    chmodSync(command, 0o755);
    return { command, args: () => readFileSync(join(dir, 'args'), 'utf8').trim().split('\n') };
  }

  it('passes the config file as one argument, reads stdout and stderr, and the exit code', async () => {
    const f = fake(
      `echo 'extra.hdb updated (version: custom database, sigs: 1)'\necho "ERROR: Can't download x" >&2\nexit 5`,
    );
    const r = await runFreshclam({
      command: f.command,
      configFile: '/etc/clam av/fresh;clam.conf',
      timeoutMs: 10_000,
    });
    expect(f.args()).toEqual(['--config-file=/etc/clam av/fresh;clam.conf', '--stdout']);
    expect(r.exitCode).toBe(5);
    expect(r.databases).toHaveLength(1);
    expect(r.problem).toMatchObject({
      code: 'EMIRROR',
      message: expect.stringContaining("Can't download x"),
    });
  });

  it('stops a freshclam that hangs, and says so', async () => {
    const f = fake('sleep 30');
    const started = Date.now();
    const r = await runFreshclam({ command: f.command, configFile: '/x', timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(r.problem).toMatchObject({
      code: 'EFRESHCLAM',
      retryable: true,
      message: expect.stringContaining('did not finish'),
    });
  });

  it('names a missing freshclam program', async () => {
    await expect(
      runFreshclam({ command: '/nonexistent/freshclam', configFile: '/x', timeoutMs: 1000 }),
    ).rejects.toMatchObject({
      code: 'ENOFRESHCLAM',
      message: expect.stringContaining('/nonexistent/freshclam'),
    });
  });
});
