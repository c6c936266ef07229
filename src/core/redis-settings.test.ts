import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { Secret } from '../config/secret.js';
import { ConfigError } from './errors.js';
import { redisOptions, withoutCredentials } from './redis-settings.js';

const dir = mkdtempSync(join(tmpdir(), 'mailjobs-redis-settings-'));
writeFileSync(join(dir, 'ca.pem'), 'CA PEM\n');
writeFileSync(join(dir, 'redis.pass'), 'file pass\n');
const file = join(dir, 'mailjobs.yaml');

describe('redis options', () => {
  it('takes the login from the fields, a user and password in the URL winning, and TLS files for rediss://', () => {
    const password = new Secret('field pass', 'inline');
    const tls = { caFile: join(dir, 'ca.pem') };
    expect(redisOptions({ url: 'rediss://127.0.0.1:6380/2', username: 'mj', password, tls })).toMatchObject({
      host: '127.0.0.1',
      port: 6380,
      db: 2,
      username: 'mj',
      password: 'field pass',
      tls: { ca: Buffer.from('CA PEM\n') },
    });
    expect(redisOptions({ url: 'redis://u%40x:p%3Aw@127.0.0.1', username: 'mj', password })).toMatchObject({
      username: 'u@x',
      password: 'p:w',
    });
    expect(redisOptions({ url: 'unix:/run/r.sock', password })).toMatchObject({ path: '/run/r.sock', password: 'field pass', connectTimeout: 3000 }); // prettier-ignore
    expect(redisOptions('redis://127.0.0.1:6379')).not.toHaveProperty('tls');
  });

  it('names the TLS field whose file cannot be read', () => {
    const target = { url: 'rediss://127.0.0.1:6380', tls: { caFile: join(dir, 'gone.pem') } };
    expect(() => redisOptions(target)).toThrow(
      new ConfigError(`redis.tls.caFile: cannot read "${join(dir, 'gone.pem')}": ENOENT`),
    );
  });

  it('drops every credential to try a server without them', () => {
    const password = new Secret('field pass', 'inline');
    const tls = { caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem' };
    expect(withoutCredentials({ url: 'rediss://u:p@127.0.0.1:6380', username: 'mj', password, tls })).toEqual(
      {
        url: 'rediss://127.0.0.1:6380',
        tls: { caFile: '/ca.pem' },
      },
    );
  });
});

describe('the redis: config section', () => {
  const parse = (yaml: string) => parseConfig(yaml, file, {});

  it('reads the password file into a Secret and resolves the TLS files beside the config', () => {
    const { redis } = parse('redis: { url: "rediss://127.0.0.1:6380", username: mj, passwordFile: redis.pass, tls: { caFile: ca.pem } }'); // prettier-ignore
    expect(redis.password).toBeInstanceOf(Secret);
    expect(redis.password?.reveal()).toBe('file pass');
    expect(redis).toMatchObject({ username: 'mj', tls: { caFile: join(dir, 'ca.pem') } });
  });

  it('names the field: an unreadable file, TLS without rediss://, a certificate without its key', () => {
    expect(() => parse('redis: { url: "rediss://127.0.0.1", tls: { caFile: nope.pem } }')).toThrow(
      `${file}: redis.tls.caFile: cannot read "${join(dir, 'nope.pem')}": ENOENT`,
    );
    expect(() => parse('redis: { url: "redis://127.0.0.1", tls: { caFile: ca.pem } }')).toThrow(
      `${file}: redis.tls: needs a rediss:// url`,
    );
    expect(() => parse('redis: { url: "rediss://127.0.0.1", tls: { certFile: ca.pem } }')).toThrow(
      `${file}: redis.tls: certFile and keyFile go together`,
    );
    expect(() => parse('redis: { passwordFile: missing.pass }')).toThrow(
      `${file}: redis.passwordFile: cannot read secret file "${join(dir, 'missing.pass')}": ENOENT`,
    );
  });
});
