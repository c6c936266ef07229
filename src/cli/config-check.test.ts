import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../core/errors.js';
import { hashPassword } from '../dashboard/password.js';
import { main } from './main.js';

describe('mailjobs config check', () => {
  it('prints the config resolved, with passwords and dashboard password hashes masked', async () => {
    const hash = await hashPassword('dashboard pass', { N: 1024, r: 8, p: 1 });
    const dir = mkdtempSync(join(tmpdir(), 'mailjobs-check-'));
    const file = join(dir, 'mailjobs.yaml');
    writeFileSync(
      file,
      [
        'connectors:',
        '  - { id: john@example.com, protocol: imap, host: imap.example.com, username: john, password: "remote pass", deliverTo: john }',
        'dashboard:',
        `  users: [{ name: alice, role: admin, passwordHash: "${hash}" }]`,
        '',
      ].join('\n'),
    );
    const out: string[] = [];
    const code = await main(['config', 'check', '--config', file], {
      jobs: [],
      log: pino({ level: 'silent' }),
      out: (t) => out.push(t),
      err: (t) => out.push(t),
    });
    const text = out.join('\n');
    expect(code).toBe(0);
    expect(text).toContain('OK (secrets masked)');
    expect(text).toContain('alice');
    expect(text).toContain('imap.example.com');
    expect(text).not.toContain('remote pass');
    expect(text).not.toContain(hash.split('$').at(-1));
    expect(text).toContain('[secret]');
  });

  it('refuses a folder pattern that backtracks catastrophically, in one line naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailjobs-check-'));
    const file = join(dir, 'mailjobs.yaml');
    writeFileSync(
      file,
      [
        'sync:',
        '  - id: john',
        '    localUser: john',
        '    remote: { host: imap.example.com, username: john, password: x }',
        '    options: { exclude: ["^Trash$", "^(a|aa)+$"] }',
        '',
      ].join('\n'),
    );
    const run = main(['config', 'check', '--config', file], {
      jobs: [],
      log: pino({ level: 'silent' }),
      out: () => undefined,
      err: () => undefined,
    });
    await expect(run).rejects.toThrow(ConfigError);
    const message = await run.catch((err: Error) => err.message);
    expect(message).toMatch(
      /sync\[0\]\.options\.exclude\[1\]: pattern refused: a repeated group holds a quantifier or an alternation/,
    );
    expect(message).not.toContain('\n');
  });
});

describe('mailjobs config check: redis', () => {
  it('shows the redis login and TLS files but neither the password file nor a password in the URL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailjobs-check-'));
    const file = join(dir, 'mailjobs.yaml');
    writeFileSync(join(dir, 'redis.pass'), 'file-pass\n');
    writeFileSync(join(dir, 'ca.pem'), 'not checked here\n');
    writeFileSync(
      file,
      'redis: { url: "rediss://mj:url-pass@127.0.0.1:6380", username: mj, passwordFile: redis.pass, tls: { caFile: ca.pem } }\n',
    );
    const out: string[] = [];
    const code = await main(['config', 'check', '--config', file], {
      jobs: [],
      log: pino({ level: 'silent' }),
      out: (t) => out.push(t),
      err: (t) => out.push(t),
    });
    const text = out.join('\n');
    expect(code).toBe(0);
    expect(text).toContain('rediss://mj:***@127.0.0.1:6380');
    expect(text).toContain(`caFile: ${join(dir, 'ca.pem')}`);
    expect(text).toContain(`[secret] (file:${join(dir, 'redis.pass')})`);
    expect(text).not.toContain('url-pass');
    expect(text).not.toContain('file-pass');
  });
});
