import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { hashPassword } from '../dashboard/password.js';
import { setUserInYaml, writeConfigFile } from './dashboard-user.js';

const cheap = { N: 1024, r: 8, p: 1 };

/** The users as written, hashes revealed (the config keeps them as secrets). */
const plainUsers = (config: Config) =>
  config.dashboard.users.map((u) => ({ ...u, passwordHash: u.passwordHash.reveal() }));

describe('dashboard add-user: the YAML edit', () => {
  it('adds a user under an existing dashboard section and keeps every comment', async () => {
    const text = [
      '# top comment',
      'redis: { prefix: x }   # inline comment',
      'dashboard:',
      '  port: 9000 # our port',
      '  # add users below',
      '  users: []',
      '',
    ].join('\n');
    const hash = await hashPassword('a long password', cheap);
    const out = setUserInYaml(text, { name: 'alice', role: 'admin', passwordHash: hash });
    expect(out).toContain('# top comment');
    expect(out).toContain('# inline comment');
    expect(out).toContain('# our port');
    expect(out).toContain('# add users below');
    const config = parseConfig(out, '/tmp/x.yaml', {});
    expect(config.dashboard.port).toBe(9000);
    expect(plainUsers(config)).toEqual([{ name: 'alice', role: 'admin', passwordHash: hash }]);
  });

  it('creates the section when missing, and replaces a user of the same name', async () => {
    const h1 = await hashPassword('first password', cheap);
    const h2 = await hashPassword('second password', cheap);
    let out = setUserInYaml('redis: { prefix: x }\n', { name: 'bob', role: 'viewer', passwordHash: h1 });
    out = setUserInYaml(out, { name: 'carol', role: 'admin', passwordHash: h1 });
    out = setUserInYaml(out, { name: 'bob', role: 'admin', passwordHash: h2 });
    expect(plainUsers(parseConfig(out, '/tmp/x.yaml', {}))).toEqual([
      { name: 'bob', role: 'admin', passwordHash: h2 },
      { name: 'carol', role: 'admin', passwordHash: h1 },
    ]);
  });

  it('the config refuses a malformed hash, naming the field', () => {
    expect(() =>
      parseConfig(
        'dashboard:\n  users:\n    - { name: a, role: admin, passwordHash: "plain" }\n',
        '/etc/m.yaml',
        {},
      ),
    ).toThrow(/\/etc\/m\.yaml: dashboard\.users\[0\]\.passwordHash: must be "scrypt\$N\$r\$p\$salt\$hash"/);
  });
});

describe('dashboard add-user: the file it writes', () => {
  const modeAfterWrite = (before: number) => {
    const file = join(mkdtempSync(join(tmpdir(), 'mailjobs-adduser-')), 'mailjobs.yaml');
    writeFileSync(file, 'redis: {}\n');
    chmodSync(file, before);
    writeConfigFile(file, 'dashboard: {}\n');
    expect(readFileSync(file, 'utf8')).toBe('dashboard: {}\n');
    return statSync(file).mode & 0o777;
  };

  it('takes every permission from others: world-readable becomes 0600; 0640 (the group) and 0600 are kept', () => {
    expect(modeAfterWrite(0o644)).toBe(0o600);
    expect(modeAfterWrite(0o666)).toBe(0o600);
    expect(modeAfterWrite(0o640)).toBe(0o640);
    expect(modeAfterWrite(0o600)).toBe(0o600);
  });
});
