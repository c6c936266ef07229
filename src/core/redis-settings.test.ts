import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { Secret } from '../config/secret.js';
import { ConfigError } from './errors.js';
import { clusterOptions, describeRedis, redisOptions, withoutCredentials } from './redis-settings.js';

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
    expect(redisOptions({ url: 'unix:/run/r.sock', password })).toMatchObject({
      path: '/run/r.sock',
      password: 'field pass',
      connectTimeout: 3000,
    });
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
    const { redis } = parse(
      'redis: { url: "rediss://127.0.0.1:6380", username: mj, passwordFile: redis.pass, tls: { caFile: ca.pem } }',
    );
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

  it('reads a Sentinel set: its nodes, master name and own login; TLS for both sides', () => {
    writeFileSync(join(dir, 'sentinel.pass'), 'sentinel pass\n');
    const { redis } = parse(
      'redis: { sentinels: [{ host: 10.0.0.1, port: 26379 }, { host: 10.0.0.2, port: 26379 }], name: mj, sentinelUsername: watcher, sentinelPasswordFile: sentinel.pass, passwordFile: redis.pass, tls: { caFile: ca.pem } }',
    );
    expect(redis).toMatchObject({
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26379 },
      ],
      name: 'mj',
      sentinelUsername: 'watcher',
    });
    expect(redis.sentinelPassword?.reveal()).toBe('sentinel pass');
    expect(JSON.stringify(redis)).not.toContain('pass\\n');
    expect(JSON.stringify(redis)).not.toMatch(/sentinel pass|file pass/);
    const options = redisOptions(redis);
    expect(options).toMatchObject({
      sentinels: redis.sentinels,
      name: 'mj',
      sentinelUsername: 'watcher',
      sentinelPassword: 'sentinel pass',
      password: 'file pass',
      enableTLSForSentinelMode: true,
      tls: { ca: Buffer.from('CA PEM\n') },
      sentinelTLS: { ca: Buffer.from('CA PEM\n') },
    });
    expect(describeRedis(redis)).toBe('sentinel mj at 10.0.0.1:26379,10.0.0.2:26379');
    expect(withoutCredentials(redis)).toBeUndefined();
  });

  it("reads a Cluster: each node gets the login and TLS, and BullMQ's blocking option", () => {
    const { redis } = parse(
      'redis: { cluster: [{ host: 10.0.0.1, port: 7000 }], username: mj, passwordFile: redis.pass }',
    );
    expect(redis.cluster).toEqual([{ host: '10.0.0.1', port: 7000 }]);
    const options = clusterOptions(redis, { maxRetriesPerRequest: null });
    expect(options.redisOptions).toMatchObject({
      username: 'mj',
      password: 'file pass',
      maxRetriesPerRequest: null,
    });
    expect(options.redisOptions).not.toHaveProperty('retryStrategy');
    expect(options).not.toHaveProperty('enableOfflineQueue');
    expect(describeRedis(redis)).toBe('cluster 10.0.0.1:7000');
    expect(withoutCredentials({ ...redis, tls: { caFile: '/ca.pem' } })).toEqual({
      url: 'rediss://10.0.0.1:7000',
      tls: { caFile: '/ca.pem' },
    });
  });

  it('names each mistake of a Sentinel or Cluster setting on a line of its own', () => {
    const message = (yaml: string) => {
      try {
        parse(yaml);
      } catch (err) {
        return (err as Error).message;
      }
      return 'no error';
    };
    expect(message('redis: { url: "redis://127.0.0.1", cluster: [{ host: a, port: 1 }] }')).toContain(
      `${file}: redis: set only one of url (or REDIS_URL), cluster`,
    );
    expect(message('redis: { sentinels: [{ host: a, port: 26379 }] }')).toContain(
      `${file}: redis.name: the Sentinel master name is needed with sentinels`,
    );
    expect(message('redis: { cluster: [{ host: a, port: 1 }], sentinelUsername: x }')).toContain(
      `${file}: redis.sentinelUsername: only with sentinels`,
    );
    const both = message('redis: { cluster: [{ host: a, port: 70000 }, { host: "", port: 1 }] }');
    expect(both).toContain('redis.cluster[0].port: Too big');
    expect(both).toContain('redis.cluster[1].host: Too small');
    expect(both.split('\n').filter((l) => l.includes('redis.cluster')).length).toBe(2);
    expect(message('redis: { cluster: [] }')).toContain('redis.cluster: list at least one { host, port }');
    expect(message('redis: { cluster: [{ host: a, port: 1 }], tls: { caFile: ca.pem } }')).toBe('no error');
  });
});
