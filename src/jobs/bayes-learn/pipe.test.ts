import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { learnFromPipe, type PipeIo } from './pipe.js';
import { readPipeSettings } from './pipe-settings.js';
import { listSpool, readSpooled } from './spool.js';

let dir: string;
let config: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mailjobs-pipe-'));
  config = path.join(dir, 'mailjobs.yaml');
  await writeFile(config, `bayesLearn: { spoolDir: ${dir}/spool, maxMessageKilobytes: 1 }\n`);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function io(input: Buffer, overrides: Partial<PipeIo> = {}) {
  const lines: string[] = [];
  const calls: string[] = [];
  const value: PipeIo = {
    // in small chunks, as a pipe delivers it
    stdin: Readable.from(
      Array.from({ length: Math.ceil(input.length / 100) }, (_, i) => input.subarray(i * 100, i * 100 + 100)),
    ),
    env: {},
    stderr: (l) => lines.push(l),
    afterSpool: async () => void calls.push('flush'),
    queueDirect: async () => void calls.push('direct'),
    ...overrides,
  };
  return { value, lines, calls };
}

const message = Buffer.from('From: a@example.org\r\nSubject: cheap watches\r\n\r\nbuy now\r\n');

describe('mailjobs-learn (the pipe)', () => {
  it('spools the message with class, user and time, then starts the flusher', async () => {
    const t = io(message);
    const before = Date.now();
    expect(await learnFromPipe({ class: 'spam', user: 'alice', configFile: config }, t.value)).toBe(
      'spooled',
    );
    const [file] = await listSpool(`${dir}/spool`);
    const spooled = await readSpooled(file!);
    expect(spooled).toMatchObject({ class: 'spam', user: 'alice' });
    expect(spooled.movedAt).toBeGreaterThanOrEqual(before);
    expect(spooled.message.equals(message)).toBe(true);
    expect(t.calls).toEqual(['flush']);
    expect(t.lines).toEqual([]);
  });

  it('reads a too-big message to the end, and neither spools nor queues it', async () => {
    const big = Buffer.alloc(1025, 0x61);
    const t = io(big);
    expect(await learnFromPipe({ class: 'ham', user: 'bob', configFile: config }, t.value)).toBe('too-big');
    expect(t.lines.join()).toMatch(/1025 bytes, over bayesLearn.maxMessageKilobytes \(1\)/);
    expect(await listSpool(`${dir}/spool`)).toEqual([]);
    expect(t.calls).toEqual([]);
  });

  it('rejects a bad class or user without failing', async () => {
    for (const req of [
      { class: 'maybe', user: 'alice' },
      { class: 'spam' },
      { class: 'spam', user: 'a b' },
    ]) {
      const t = io(message);
      expect(await learnFromPipe({ ...req, configFile: config }, t.value)).toBe('invalid');
      expect(t.lines[0]).toMatch(/needs --class spam\|ham and --user/);
    }
  });

  it('queues directly when the spool cannot be written, and says when both fail', async () => {
    await writeFile(config, `bayesLearn: { spoolDir: ${config}/not-a-dir }\n`);
    const t = io(message);
    expect(await learnFromPipe({ class: 'spam', user: 'alice', configFile: config }, t.value)).toBe('queued');
    expect(t.calls).toEqual(['direct']);
    const lost = io(message, { queueDirect: () => Promise.reject(new Error('ECONNREFUSED')) });
    expect(await learnFromPipe({ class: 'spam', user: 'alice', configFile: config }, lost.value)).toBe(
      'lost',
    );
    expect(lost.lines.at(-1)).toMatch(/LOST: .*ECONNREFUSED/);
  });
});

describe('pipe settings', () => {
  it('names a bad field and falls back to its default', async () => {
    await writeFile(
      config,
      'redis: { url: "http://x", prefix: "a b" }\nbayesLearn: { maxMessageKilobytes: -3 }\n',
    );
    const s = readPipeSettings(config, {});
    expect(s.maxMessageBytes).toBe(1024 * 1024);
    expect(s.redis.url).toBe('redis://127.0.0.1:6379');
    expect(s.prefix).toBe('mailjobs');
    expect(s.problems.join('\n')).toMatch(/bayesLearn.maxMessageKilobytes: must be an integer/);
    expect(s.problems.join('\n')).toMatch(/redis.url: must start with redis/);
    expect(s.problems.join('\n')).toMatch(/redis.prefix:/);
  });

  it('uses the defaults when the config cannot be read, and REDIS_URL over the file', () => {
    const s = readPipeSettings(path.join(dir, 'missing.yaml'), { REDIS_URL: 'redis://10.0.0.1:6380' });
    expect(s.spoolDir).toBe('/var/spool/mailjobs/learn');
    expect(s.redis.url).toBe('redis://10.0.0.1:6380');
    expect(s.problems[0]).toMatch(/ENOENT; using defaults/);
  });

  it('reads a Sentinel set (with its password file) or a Cluster like the workers do', async () => {
    await writeFile(path.join(dir, 'sentinel.pass'), 'watch\n');
    await writeFile(
      config,
      'redis: { sentinels: [{ host: 10.0.0.1, port: 26379 }], name: mj, sentinelPasswordFile: sentinel.pass }\n',
    );
    const s = readPipeSettings(config, {});
    expect(s.redis).toMatchObject({ sentinels: [{ host: '10.0.0.1', port: 26379 }], name: 'mj' });
    expect(s.redis.sentinelPassword?.reveal()).toBe('watch');
    expect(s.redis.url).toBeUndefined();
    await writeFile(config, 'redis: { cluster: [{ host: 10.0.0.2, port: 7000 }, { host: x }] }\n');
    expect(readPipeSettings(config, {}).redis).toEqual({ url: 'redis://127.0.0.1:6379' });
    expect(readPipeSettings(config, {}).problems.join('\n')).toMatch(
      /redis.cluster: must be a list of \{ host, port \}/,
    );
    await writeFile(config, 'redis: { cluster: [{ host: 10.0.0.2, port: 7000 }] }\n');
    expect(readPipeSettings(config, {}).redis).toEqual({ cluster: [{ host: '10.0.0.2', port: 7000 }] });
  });
});
