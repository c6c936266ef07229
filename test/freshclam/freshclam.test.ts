/**
 * freshclam against a private clamd and a local HTTP mirror serving custom databases (no
 * official database can be downloaded here): an update is downloaded, clamd runs it before the
 * job succeeds, a file matching the new signature is detected at once; a mirror that is down
 * fails the job with the reason and leaves the old database working; two triggers run once;
 * `mailjobs status` shows the signatures' version and age, and alerts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueJob } from '../../src/client/enqueue.js';
import { loadConfig } from '../../src/config/load.js';
import { closeQueues, openQueues } from '../../src/core/queues.js';
import { connectRedis, type RedisClient } from '../../src/core/redis.js';
import { freshclamJob } from '../../src/jobs/freshclam/index.js';
import type { FreshclamResult } from '../../src/jobs/freshclam/processor.js';
import { ClamdClient } from '../../src/mail/clamd.js';
import { EICAR, startClamd, type ClamdFixture } from '../fixtures/clamd.js';
import { buildDaily, hdbSignature, startMirror, type MirrorFixture } from '../fixtures/mirror.js';
import { freePort } from '../fixtures/ports.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { freshPrefix, openEvents, runCli, startTestWorkers, writeConfig } from '../helpers/runtime.js';

const jobs = [freshclamJob];
const NEW_FILE = Buffer.from('mailjobs freshclam test: caught only by the new signature\n');
let redisFx: RedisFixture;
let redis: RedisClient;
let clamd: ClamdFixture;
let mirror: MirrorFixture;
let dir: string;
const prefix = freshPrefix();

beforeAll(async () => {
  [redisFx, clamd, mirror] = await Promise.all([startRedis(), startClamd(), startMirror()]);
  redis = connectRedis(redisFx.url);
  dir = await mkdtemp(path.join(tmpdir(), 'mailjobs-freshclam-test-'));
  await mirror.put('extra.hdb', hdbSignature(NEW_FILE, 'Mailjobs.Test.NewSignature'));
  await mirror.put('daily.cud', await buildDaily(dir, 27001));
});
afterAll(async () => {
  await redis?.quit();
  await Promise.allSettled([mirror?.stop(), clamd?.stop(), redisFx?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A freshclam.conf for the fixture's database folder, fetching from `port` (default: the mirror). */
async function freshclamConf(
  name: string,
  opts: { port?: number; notifyClamd?: boolean } = {},
): Promise<string> {
  const base = `http://127.0.0.1:${opts.port ?? mirror.port}`;
  const file = path.join(dir, `${name}.conf`);
  const lines = [
    `DatabaseDirectory ${clamd.dbDir}`,
    `UpdateLogFile ${dir}/freshclam.log`,
    ...(process.getuid?.() === 0 ? ['DatabaseOwner root'] : []),
    'DNSDatabaseInfo no',
    `DatabaseMirror 127.0.0.1:${opts.port ?? mirror.port}`,
    // The local mirror has no signed official CVDs: only custom database URLs.
    'ExcludeDatabase daily',
    'ExcludeDatabase main',
    'ExcludeDatabase bytecode',
    `DatabaseCustomURL ${base}/extra.hdb`,
    `DatabaseCustomURL ${base}/daily.cud`,
    'MaxAttempts 1',
    ...(opts.notifyClamd === false ? [] : [`NotifyClamd ${clamd.configFile}`]),
  ];
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

function mailjobsConfig(conf: string, extra = '', p = prefix): string {
  return writeConfig(
    redisFx.url,
    p,
    `clamd: { socket: ${clamd.socket}, timeoutSeconds: 10 }\n` +
      `freshclam: { configFile: ${conf}, reloadTimeoutSeconds: 20, alert: { failuresInARow: 2 }${extra} }\n`,
  );
}

async function run(configFile: string) {
  const r = await runCli(['run', 'freshclam', '{}', '--config', configFile], jobs);
  return {
    ...r,
    result: r.code === 0 ? (JSON.parse(r.out) as FreshclamResult) : undefined,
  };
}

const scan = (data: Buffer | string) =>
  new ClamdClient({ socket: clamd.socket }).scanStream(Buffer.from(data), { timeoutMs: 10_000 });
const statusLine = async (configFile: string) =>
  (await runCli(['status', 'freshclam', '--config', configFile], jobs)).out
    .split('\n')
    .find((l) => l.includes(' signatures  '));
const updateRuns = () =>
  (readFileSync(path.join(dir, 'freshclam.log'), 'utf8').match(/update process started/g) ?? []).length;
const databases = () =>
  Object.fromEntries(
    readdirSync(clamd.dbDir)
      .filter((f) => /\.(hdb|cud)$/.test(f))
      .map((f) => [f, readFileSync(path.join(clamd.dbDir, f), 'latin1')]),
  );

describe('freshclam with a private clamd and a local mirror', () => {
  it('downloads the update, succeeds only once clamd runs it, and the new signature detects at once', async () => {
    expect(await scan(NEW_FILE)).toEqual({ infected: false });
    const config = mailjobsConfig(await freshclamConf('notify'));
    const r = await run(config);
    expect(r.code, r.err).toBe(0);
    expect(r.result!.updated.sort()).toEqual(['daily.cud', 'extra.hdb']);
    expect(r.result!.clamd).toMatchObject({
      dbVersion: 27001,
      previousDbVersion: 27000,
      reload: 'confirmed',
      reloadSent: false,
    });
    expect(await scan(NEW_FILE)).toEqual({ infected: true, virus: 'Mailjobs.Test.NewSignature.UNOFFICIAL' });
    expect(await statusLine(config)).toMatch(
      /^ {4}signatures {2}daily 27001 built \d+ s ago; last update ok \d+ s ago \(\d\d:\d\d\)$/,
    );

    const again = await run(config);
    expect(again.result).toMatchObject({ updated: [], clamd: { reload: 'not-needed', dbVersion: 27001 } });
    expect(again.result!.upToDate.sort()).toEqual(['daily.cud', 'extra.hdb']);
  });

  it('without NotifyClamd in freshclam.conf, the job reloads clamd itself', async () => {
    await mirror.put('daily.cud', await buildDaily(dir, 27002));
    const r = await run(mailjobsConfig(await freshclamConf('no-notify', { notifyClamd: false })));
    expect(r.code, r.err).toBe(0);
    expect(r.result!.clamd).toMatchObject({
      dbVersion: 27002,
      previousDbVersion: 27001,
      reload: 'confirmed',
      reloadSent: true,
    });
    expect((await new ClamdClient({ socket: clamd.socket }).version()).dbVersion).toBe(27002);
  });

  it('a mirror that is down fails the job with the reason; the old database stays and scans work', async () => {
    const before = databases();
    const down = await freePort();
    const config = mailjobsConfig(await freshclamConf('down', { port: down }));
    const r = await run(config);
    expect(r.code).toBe(1);
    expect(r.err).toContain('freshclam: the mirror could not be reached');
    expect(r.err).toContain(`http://127.0.0.1:${down}/extra.hdb`);
    expect(databases()).toEqual(before);
    expect(await scan(EICAR)).toEqual({ infected: true, virus: 'eicar.com.UNOFFICIAL' });
    expect(await scan(NEW_FILE)).toMatchObject({ infected: true });
    expect(await statusLine(config)).toMatch(
      /^ {2}~ signatures {2}daily 27002 built .*; last update failing \(1x\) since \d+ s ago \(\d\d:\d\d\): freshclam: the mirror could not be reached: .*$/,
    );
    expect((await run(config)).code).toBe(1);
    expect(await statusLine(config)).toMatch(
      /^ {2}! signatures {2}.*last update failing \(2x\).* — ALERT: the last 2 updates failed$/,
    );
    // The next successful update clears the alert.
    expect((await run(mailjobsConfig(await freshclamConf('notify')))).code).toBe(0);
    expect(await statusLine(config)).toMatch(/^ {4}signatures {2}daily 27002 .*; last update ok/);
  });

  it('two triggers at once run freshclam once', async () => {
    const p = freshPrefix();
    const configFile = mailjobsConfig(await freshclamConf('notify'), '', p);
    const config = loadConfig(configFile, {});
    mirror.delayMs = 1500; // each request takes 1.5 s: the runs would overlap
    const queues = openQueues(jobs, redisFx.url, p);
    const events = await openEvents('freshclam', redisFx.url, p);
    const workers = startTestWorkers({ config, redisSettings: { url: redisFx.url }, redis }, jobs);
    try {
      const runsBefore = updateRuns();
      const enqueue = () => enqueueJob(queues.get('freshclam')!, freshclamJob, {}, { redis, prefix: p });
      const [a, b] = await Promise.all([enqueue(), enqueue()]);
      expect([a.status, b.status].sort()).toEqual([
        expect.stringMatching(/^(already-queued|running)$/),
        'queued',
      ]);
      expect(a.jobId).toBe(b.jobId);
      const job = await queues.get('freshclam')!.getJob(a.jobId);
      expect(await job!.waitUntilFinished(events, 30_000)).toMatchObject({ updated: [] });
      // Two foreground runs at once: the second finds the target locked, and says so (exit 75).
      const [x, y] = await Promise.all([run(configFile), run(configFile)]);
      expect([x.code, y.code].sort()).toEqual([0, 75]);
      expect((x.code === 75 ? x : y).err).toMatch(/^busy: the freshclam target is held by job run-/);
      expect(updateRuns() - runsBefore).toBe(2);
    } finally {
      mirror.delayMs = 0;
      await workers.close();
      await events.close();
      await closeQueues(queues);
    }
  });

  it('signatures older than maxAgeHours raise an alert in status', async () => {
    await mirror.put('daily.cud', await buildDaily(dir, 27003, new Date(Date.now() - 10 * 86_400_000)));
    const config = mailjobsConfig(await freshclamConf('notify'));
    const r = await run(config);
    expect(r.code, r.err).toBe(0);
    expect(r.result!.clamd).toMatchObject({ dbVersion: 27003, reload: 'confirmed' });
    expect(await statusLine(config)).toMatch(
      /^ {2}! signatures {2}daily 27003 built 10 days ago; last update ok \d+ s ago \(\d\d:\d\d\) — ALERT: signatures are 10 days old \(limit 24 h\)$/,
    );
  });
});
