/**
 * Ad-hoc imapsync tasks: the task comes in the payload, its password sealed for one host, port
 * and user, so job data never holds it and a copied sealed value opens nowhere else; the host
 * is checked against `imapsync.adhoc` (loopback, where the fixtures listen, is refused unless
 * allowed); `mailjobs seal` seals for one login.
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueJob } from '../../src/client/enqueue.js';
import { loadConfig } from '../../src/config/load.js';
import { SecretBox } from '../../src/core/crypto.js';
import { closeQueues, openQueues } from '../../src/core/queues.js';
import { imapsyncJob } from '../../src/jobs/imapsync/index.js';
import { registry } from '../../src/jobs/registry.js';
import { openJobClient } from '../helpers/job-client.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { exited, workerProcesses } from '../helpers/worker-process.js';
import { corpus, makeMessage, seed } from './corpus.js';
import { runImapsync, startSyncWorld, type SyncWorld, writeSyncConfig } from './world.js';

let w: SyncWorld;
const workers = workerProcesses('error');
beforeAll(async () => {
  w = await startSyncWorld();
});
afterAll(async () => {
  workers.killAll();
  await w?.stop();
});

/** The fixtures listen on 127.0.0.1, which ad-hoc tasks may not reach unless allowed. */
const allowLoopback = ['imapsync: { adhoc: { allow: [127.0.0.1] } }'];

describe('imapsync ad-hoc tasks', () => {
  it('runs a task from the payload; the password travels sealed and is never in job data', async () => {
    const remote = await w.remote.addUser('r-adhoc');
    const local = await w.local.addUser('l-adhoc');
    await seed(w.remote, remote.user, corpus('.', 1, 5000));
    const config = writeSyncConfig(w, [], allowLoopback);
    const cfg = loadConfig(config, {});
    const purpose = {
      host: '127.0.0.1',
      port: w.remote.imapsPort!,
      username: remote.user,
      field: 'password',
    } as const;
    const sealed = await new SecretBox(cfg.secrets.keyFile).seal(remote.password, purpose);
    const adhoc = {
      localUser: local.user,
      remote: {
        host: '127.0.0.1',
        port: w.remote.imapsPort!,
        security: 'tls',
        verifyCertificate: false,
        username: remote.user,
        password: sealed,
      },
    };
    const r = await runImapsync(config, { adhoc });
    expect(r.result).toMatchObject({ outcome: 'ok', task: `adhoc:${local.user}<${remote.user}@127.0.0.1` });
    expect(r.result!.copied).toBeGreaterThan(5);

    const plain = await runImapsync(config, {
      adhoc: { ...adhoc, remote: { ...adhoc.remote, password: remote.password } },
    });
    expect(plain.code).toBe(2); // an invalid payload: refused before anything runs
    expect(plain.err).toMatch(/adhoc\.remote\.password: must be sealed/);
    expect(plain.err).not.toContain(remote.password);

    // enqueued: the job data in Redis holds the sealed value only
    const redis = new Redis(w.redis.url);
    const queues = openQueues(registry, w.redis.url, cfg.redis.prefix);
    try {
      const { jobId } = await enqueueJob(
        queues.get('imapsync')!,
        imapsyncJob,
        { adhoc },
        { redis, prefix: cfg.redis.prefix },
      );
      const job = await queues.get('imapsync')!.getJob(jobId);
      const stored = JSON.stringify(job!.data);
      expect(stored).toContain(sealed);
      expect(stored).not.toContain(remote.password);
    } finally {
      await closeQueues(queues);
      await redis.quit();
    }

    // sealed with another key: refused, naming the field, not the value
    const other = await new SecretBox(`${cfg.secrets.keyFile}.other`).seal(remote.password, purpose);
    const wrongKey = await runImapsync(config, {
      adhoc: { ...adhoc, remote: { ...adhoc.remote, password: other } },
    });
    expect(wrongKey.err).toMatch(
      /adhoc\.remote\.password: cannot be opened as the password of r-adhoc\S* at 127\.0\.0\.1:\d+ \(sealed for another host, port, user or field, with another key file/,
    );
    expect(wrongKey.err).not.toContain(remote.password);
  });

  it('refuses 127.0.0.1 by default, before anything is sent to it', async () => {
    const remote = await w.remote.addUser('r-denied');
    const local = await w.local.addUser('l-denied');
    const config = writeSyncConfig(w, []);
    const cfg = loadConfig(config, {});
    const proxy = await TcpProxy.start(w.remote.imapsPort!);
    try {
      const purpose = {
        host: '127.0.0.1',
        port: proxy.port,
        username: remote.user,
        field: 'password',
      } as const;
      const password = await new SecretBox(cfg.secrets.keyFile).seal(remote.password, purpose);
      const r = await runImapsync(config, {
        adhoc: {
          localUser: local.user,
          remote: {
            host: '127.0.0.1',
            port: proxy.port,
            security: 'tls',
            verifyCertificate: false,
            username: remote.user,
            password,
          },
        },
      });
      expect(r.code).toBe(1);
      expect(r.err).toContain(
        'adhoc.remote.host: 127.0.0.1 is refused for ad-hoc tasks: loopback; an admin may allow it in imapsync.adhoc.allow',
      );
      expect(proxy.accepted).toBe(0);
    } finally {
      await proxy.close();
    }
  });
  it('a sealed password copied into a job aimed elsewhere fails once, and nothing reaches the other server', async () => {
    const remote = await w.remote.addUser('r-reaim');
    const local = await w.local.addUser('l-reaim');
    await seed(w.remote, remote.user, [
      { folder: 'INBOX', raw: makeMessage('reaim-1'), flags: [], internalDate: new Date('2020-01-01') },
    ]);
    const file = writeSyncConfig(w, [], allowLoopback);
    const cfg = loadConfig(file, {});
    // The "other server": a listener in front of the same Dovecot, so a password sent there would work.
    const other = await TcpProxy.start(w.remote.imapsPort!);
    const client = await openJobClient(w.redis.url, file, imapsyncJob);
    const worker = workers.start(file);
    try {
      const sealed = await new SecretBox(cfg.secrets.keyFile).seal(remote.password, {
        host: '127.0.0.1',
        port: w.remote.imapsPort!,
        username: remote.user,
        field: 'password',
      });
      const remoteAt = (port: number) => ({
        host: '127.0.0.1',
        port,
        security: 'tls',
        verifyCertificate: false,
        username: remote.user,
        password: sealed,
      });
      const { jobId } = await client.enqueue({
        adhoc: { localUser: local.user, remote: remoteAt(other.port) },
      });
      const job = (await client.queue.getJob(jobId))!;
      await expect(job.waitUntilFinished(client.events, 60_000)).rejects.toThrow(
        `adhoc.remote.password: cannot be opened as the password of ${remote.user} at 127.0.0.1:${other.port} (sealed for another host, port, user or field`,
      );
      expect(await client.queue.getJobState(jobId)).toBe('failed');
      expect((await client.queue.getJob(jobId))!.attemptsMade).toBe(1);
      expect(other.accepted).toBe(0);
      expect(other.bytes).toEqual({ up: 0, down: 0 });
      expect(JSON.stringify(await client.queue.getJobLogs(jobId))).not.toContain(remote.password);

      // the same value where it was sealed for: the sync runs
      const right = await client.enqueue({
        adhoc: { localUser: local.user, remote: remoteAt(w.remote.imapsPort!) },
      });
      const result = await (await client.queue.getJob(right.jobId))!.waitUntilFinished(client.events, 60_000);
      expect(result).toMatchObject({ outcome: 'ok', copied: 1 });
      expect(other.accepted).toBe(0);
    } finally {
      worker.kill('SIGTERM');
      await exited(worker);
      await client.close();
      await other.close();
    }
  });
});

describe('mailjobs seal', () => {
  const seal = (config: string, options: string[], secret: string) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', 'seal', '--config', config, ...options],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    child.stdin.end(secret);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    return new Promise<{ code: number | null; out: string; err: string }>((resolve) =>
      child.once('close', (code) => resolve({ code, out, err })),
    );
  };

  it('seals the secret read on stdin for one login with the config key file (created 0600 on first use)', async () => {
    const config = writeSyncConfig(w, []);
    const keyFile = loadConfig(config, {}).secrets.keyFile;
    const r = await seal(
      config,
      ['--host', 'imap.example.com', '--port', '993', '--user', 'john'],
      'my remote password\n',
    );
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('my remote password');
    const box = new SecretBox(keyFile);
    const purpose = { host: 'imap.example.com', port: 993, username: 'john', field: 'password' } as const;
    expect((await box.open(r.out.trim(), purpose, 'f')).reveal()).toBe('my remote password');
    await expect(box.open(r.out.trim(), { ...purpose, host: 'imap.example.org' }, 'f')).rejects.toThrow(
      /cannot be opened/,
    );
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);

    const admin = await seal(
      config,
      ['--host', 'imap.example.com', '--port', '993', '--user', 'john', '--field', 'admin.password'],
      'x\n',
    );
    expect((await box.open(admin.out.trim(), { ...purpose, field: 'admin.password' }, 'f')).reveal()).toBe(
      'x',
    );
  });

  it.each([
    [[], 'mailjobs seal: --host, --port and --user are required'],
    [['--host=-x', '--port', '993', '--user', 'j'], 'mailjobs seal: --host must not start with "-"'],
    [['--host', 'h', '--port', '99999', '--user', 'j'], 'mailjobs seal: --port must be 1 to 65535'],
    [
      ['--host', 'h', '--port', '993', '--user', 'j', '--field', 'token'],
      'mailjobs seal: --field must be password or admin.password',
    ],
    [['--host', 'h', '--port', '993', '--user', 'j', '--bogus'], "mailjobs seal: Unknown option '--bogus'"],
  ])('refuses %j in one line, exit 2', async (options, message) => {
    const r = await seal(writeSyncConfig(w, []), options, 'secret\n');
    expect(r.code).toBe(2);
    expect(r.err.split('\n')[0]).toContain(message);
    expect(r.out).toBe('');
  });
});
