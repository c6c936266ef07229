import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from './load.js';
import { configErrorOf } from '../../test/helpers/config-error.js';

const dir = mkdtempSync(join(tmpdir(), 'mailjobs-cfg-'));
const file = join(dir, 'mailjobs.yaml');
writeFileSync(join(dir, 'john.secret'), 's3cret\n');

const connector = (extra: string) => `
connectors:
  - id: john@example.com
    protocol: imap
    host: imap.example.com
    username: john
    deliverTo: john
${extra}`;

const errorOf = (text: string, env: NodeJS.ProcessEnv = {}): string => configErrorOf(text, file, env);

describe('config', () => {
  it('fills every default', () => {
    const c = parseConfig('{}', file, {});
    expect(c.redis.prefix).toBe('mailjobs');
    expect(c.redis.url).toBeUndefined();
    expect(c.dovecot.lmtp).toEqual({ host: '127.0.0.1', port: 24 });
    expect(c.connectors).toEqual([]);
  });

  it('names the file and the field of a missing field', () => {
    const msg = errorOf(connector('    passwordFile: john.secret').replace('    deliverTo: john\n', ''));
    expect(msg).toContain(file);
    expect(msg).toContain('connectors[0].deliverTo');
  });

  it('requires a password or a password file', () => {
    expect(errorOf(connector(''))).toContain(
      'connectors[0].passwordFile: exactly one of password, passwordFile or auth is required',
    );
  });

  it('rejects a bad cron expression with the field named', () => {
    const msg = errorOf('schedules:\n  spam-expunge: { cron: "61 * * * *" }');
    expect(msg).toMatch(/schedules\.spam-expunge\.cron: invalid cron expression "61 \* \* \* \*"/);
  });

  it('reports a secret file that cannot be read, with its path, never its content', () => {
    const msg = errorOf(connector('    passwordFile: missing.secret'));
    expect(msg).toContain('connectors[0].passwordFile: cannot read secret file');
    expect(msg).toContain(join(dir, 'missing.secret'));
    expect(msg).toContain('ENOENT');
  });

  it('reads secrets relative to the config file and masks them when printed', () => {
    const c = parseConfig(connector('    passwordFile: john.secret'), file, {});
    const login = c.connectors[0]!.login;
    expect(login.kind === 'password' && login.password.reveal()).toBe('s3cret');
    expect(JSON.stringify(c)).not.toContain('s3cret');
  });

  it('rejects unknown keys (typos) and duplicate connector ids', () => {
    expect(errorOf('redis: { prefx: x }')).toContain('redis: Unrecognized key: "prefx"');
    const two = connector('    password: a') + connector('    password: b').replace('connectors:\n', '');
    expect(errorOf(two)).toContain('connectors[1].id: duplicate connector id "john@example.com"');
  });

  it('reports YAML syntax errors with the file', () => {
    expect(errorOf('redis: [unclosed')).toMatch(/mailjobs\.yaml: YAML syntax error/);
  });

  it('lets REDIS_URL and MAILJOBS_PREFIX override the file', () => {
    const c = parseConfig('redis: { url: "redis://10.0.0.1:6379", prefix: a }', file, {
      REDIS_URL: 'redis://127.0.0.1:7000',
      MAILJOBS_PREFIX: 'b',
    });
    expect(c.redis).toEqual({ url: 'redis://127.0.0.1:7000', prefix: 'b' });
  });

  it('says how to fix a missing config file', () => {
    expect(() => loadConfig(join(dir, 'nope.yaml'), {})).toThrow(
      /cannot read the config file: ENOENT \(copy mailjobs\.example\.yaml/,
    );
  });

  it('accepts mailjobs.example.yaml, and its commented connector once uncommented', () => {
    const example = readFileSync(join(process.cwd(), 'mailjobs.example.yaml'), 'utf8');
    expect(parseConfig(example, file, {}).connectors).toEqual([]);
    const uncommented = example
      .replace('connectors: []\n', 'connectors:\n')
      .replace(/^#( {2}[ -] \w+:.*)$/gm, '$1')
      .replace('passwordFile: secrets/john', 'passwordFile: john.secret');
    const c = parseConfig(uncommented, file, {});
    expect(c.connectors[0]).toMatchObject({
      id: 'john@example.com',
      protocol: 'imap',
      deliverTo: 'john',
      intervalMinutes: 30,
    });
  });
});
