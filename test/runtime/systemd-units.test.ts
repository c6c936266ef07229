/**
 * The units of contrib/systemd pass `systemd-analyze verify` with no complaint at all: it exits 0
 * on an unknown directive and only warns, so any output fails the test too. verify also wants
 * ExecStart's program to exist; the copies checked here differ from contrib only in that path.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { requireBinary } from '../fixtures/service.js';

const UNITS = ['mailjobs.service', 'mailjobs-worker@.service'];
const INSTALLED_PROGRAM = '/usr/local/bin/mailjobs';
const dir = mkdtempSync(path.join(tmpdir(), 'mailjobs-units-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const contrib = (unit: string) => readFileSync(path.join('contrib/systemd', unit), 'utf8');

/** `systemd-analyze verify` on `text` saved as `unit`, with ExecStart's program present; its exit code and output. */
function verify(unit: string, text: string): { status: number | null; output: string } {
  const program = path.join(dir, 'mailjobs');
  writeFileSync(program, '#!/bin/sh\n');
  chmodSync(program, 0o755);
  expect(text).toContain(`ExecStart=${INSTALLED_PROGRAM} `);
  const file = path.join(dir, unit);
  writeFileSync(file, text.replaceAll(INSTALLED_PROGRAM, program));
  // systemd-analyze is required (test/fixtures/global-setup.ts names its Debian package, systemd).
  const r = spawnSync(requireBinary('systemd-analyze'), ['verify', file], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

it.each(UNITS)('%s passes systemd-analyze verify without a warning', (unit) => {
  expect(verify(unit, contrib(unit))).toEqual({ status: 0, output: '' });
});

it('a misspelled directive is caught (verify only warns about it, with exit 0)', () => {
  const text = contrib('mailjobs.service').replace('ProtectSystem=strict', 'ProtectSytem=strict');
  const { output } = verify('mailjobs.service', text);
  expect(output).toContain("Unknown key 'ProtectSytem'");
});

it('both units have the same sandbox (from "# Sandbox" to [Install])', () => {
  const sandbox = (unit: string) => {
    const text = contrib(unit);
    return text.slice(text.indexOf('# Sandbox'), text.indexOf('[Install]'));
  };
  expect(sandbox('mailjobs.service')).toContain('ProtectSystem=strict');
  expect(sandbox('mailjobs-worker@.service')).toBe(sandbox('mailjobs.service'));
});
