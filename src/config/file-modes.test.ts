import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exposedFileWarnings } from './file-modes.js';
import { parseConfig } from './load.js';

describe('exposedFileWarnings', () => {
  it('warns about the config and the key file when every local user can read them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailjobs-modes-'));
    const configFile = join(dir, 'mailjobs.yaml');
    const yaml = `secrets: { keyFile: secrets.key }\ndashboard: { users: [{ name: admin, role: admin, passwordHash: "scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA" }] }\n`;
    writeFileSync(configFile, yaml);
    const config = parseConfig(yaml, configFile, {});
    writeFileSync(join(dir, 'secrets.key'), 'k');
    chmodSync(configFile, 0o644);
    chmodSync(join(dir, 'secrets.key'), 0o604);
    expect(exposedFileWarnings(configFile, config)).toEqual([
      `${configFile} holds password hashes and every local user can read it (mode 0644): chmod o-rwx ${configFile}`,
      `${dir}/secrets.key holds the key to sealed job secrets and every local user can read it (mode 0604): chmod o-rwx ${dir}/secrets.key`,
    ]);
    chmodSync(configFile, 0o640);
    chmodSync(join(dir, 'secrets.key'), 0o600);
    expect(exposedFileWarnings(configFile, config)).toEqual([]);
    const noKey = parseConfig(`secrets: { keyFile: missing.key }\n`, configFile, {});
    expect(exposedFileWarnings(configFile, noKey)).toEqual([]);
  });

  it('says nothing of a readable config that holds no password hash (the example config)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailjobs-modes-'));
    const configFile = join(dir, 'mailjobs.yaml');
    writeFileSync(configFile, `secrets: { keyFile: missing.key }\n`);
    chmodSync(configFile, 0o644);
    const config = parseConfig(`secrets: { keyFile: missing.key }\n`, configFile, {});
    expect(exposedFileWarnings(configFile, config)).toEqual([]);
  });
});
