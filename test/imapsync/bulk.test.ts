/**
 * Bulk migration on the test Dovecot pair: 50 accounts (5 through the remote's master login)
 * imported from a CSV with `mailjobs sync import`, queued at once from the Synchronization
 * page's bulk Start, some cancelled while queued and started again, all synchronised under a host
 * cap of 4 (counted at a TCP proxy in front of the remote Dovecot: each run holds one remote
 * connection; exactly 4 at once, never more, while the others wait for a slot); every
 * message once and intact in each destination; the fleet's totals (accounts, messages, bytes)
 * and `mailjobs status --sync --json` agree with what was seeded. A bad file names each bad line
 * and creates nothing; a task with a wrong password is the one "failed" row, with its error, and
 * "Retry failed" queues it alone. A slow task (a throttling proxy in front of the remote) shows
 * its bytes moving while it runs; a whole domain in one config entry runs through the master login.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fleet, type ImportOutcome } from '../../src/dashboard/pages/sync-fleet.js';
import { syncPage } from '../../src/dashboard/pages/sync.js';
import { imapsyncJob } from '../../src/jobs/imapsync/index.js';
import { registry } from '../../src/jobs/registry.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import type { WorkerSet } from '../../src/worker/workers.js';
import { runCli, silentLog, startTestWorkers } from '../helpers/runtime.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { call } from '../dashboard/routes.js';
import { type CorpusMessage, contents, makeMessage, seed, snapshot } from './corpus.js';
import { startSyncWorld, type SyncWorld, writeSyncConfig } from './world.js';

const ACCOUNTS = 50;
const FOLDERS = ['INBOX', 'Kunden', 'Projekte'];
const PER_FOLDER = 4;
const CAP = 4;

let w: SyncWorld;
let rt: Runtime | undefined;
let workers: WorkerSet | undefined;
let config: string;
let dir: string;
/** Every imported task reaches the remote through it: it counts the sessions in progress. */
let proxy: TcpProxy;
const seeded = new Map<number, CorpusMessage[]>();
const remoteUser = (i: number) => `bulk-r${i}`;
const localUser = (i: number) => `bulk-l${i}`;
const target = (local: string, remote: string) => `adhoc:${local}<${remote}@127.0.0.1`;

function messagesOf(i: number): CorpusMessage[] {
  return FOLDERS.flatMap((folder, f) =>
    Array.from({ length: PER_FOLDER }, (_, k) => ({
      folder,
      raw: makeMessage(`bulk-${i}-${f}-${k}`, { body: `account ${i}\r\n`.repeat(1 + ((i + k) % 7) * 20) }),
      flags: k % 2 === 0 ? ['\\Seen'] : [],
      internalDate: new Date(Date.UTC(2021, 0, 1) + (f * PER_FOLDER + k) * 3_600_000),
    })),
  );
}

beforeAll(async () => {
  w = await startSyncWorld();
  proxy = await TcpProxy.start(w.remote.imapsPort!);
  const lines = ['localUser,host,username,password,adminUser,adminPassword,port,security,verifyCertificate'];
  const port = proxy.port;
  for (let i = 0; i < ACCOUNTS; i++) {
    const r = await w.remote.addUser(remoteUser(i));
    await w.local.addUser(localUser(i));
    seeded.set(i, messagesOf(i));
    lines.push(
      i < 5
        ? `${localUser(i)},127.0.0.1,${r.user},,vmail,${w.remote.masterPassword},${port},tls,false`
        : `${localUser(i)},127.0.0.1,${r.user},"${r.password}",,,${port},tls,false`,
    );
  }
  for (let i = 0; i < ACCOUNTS; i += 10)
    await Promise.all([...seeded].slice(i, i + 10).map(([n, m]) => seed(w.remote, remoteUser(n), m)));
  // The 51st task: a wrong password.
  await w.remote.addUser('bulk-rbad');
  await w.local.addUser('bulk-lbad');
  lines.push(`bulk-lbad,127.0.0.1,bulk-rbad,wrong-password,,,${port},tls,false`);
  // More worker slots than the host cap: the cap, not the worker, is what holds runs back. A
  // connect timeout longer than the hold below, however slow the machine.
  config = writeSyncConfig(
    w,
    [],
    [
      'workers: { lockDurationSeconds: 5, concurrency: { imapsync: 8 } }',
      `imapsync: { adhoc: { allow: [127.0.0.1] }, parallelFolders: 1, maxRunningPerHost: ${CAP}, connectTimeoutSeconds: 120 }`,
    ],
  );
  dir = join(config, '..');
  writeFileSync(join(dir, 'tasks.csv'), `${lines.join('\n')}\n`);
  rt = await openRuntime({ configFlag: config, jobs: registry, log: silentLog, startPrivateRedis: false });
}, 600_000);
afterAll(async () => {
  await workers?.close();
  await rt?.close();
  await proxy?.close();
  await w?.stop();
});

const fleet = (filter = 'all') => call<Fleet>(rt!, syncPage, 'GET', '/sync/fleet', { filter });
const bulk = (action: string, targets: string[] = []) =>
  call<{ results: { target: string; status: string }[] }>(rt!, syncPage, 'POST', '/sync/bulk', {
    action,
    targets,
  });

describe('imapsync bulk migration of 50 accounts', () => {
  it('a bad file names each bad line with its field, and creates nothing', async () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(
      bad,
      [
        'localUser,host,username,password,port',
        'a,127.0.0.1,ra,secret-a,993',
        'b,127.0.0.1,rb,secret-b,99999',
        ',127.0.0.1,rc,secret-c,993',
        'd,127.0.0.1,rd,,993',
        'a,127.0.0.1,ra,secret-e,993',
      ].join('\n'),
    );
    const r = await runCli(['sync', 'import', bad, '--config', config], registry);
    expect(r.code).toBe(2);
    expect(r.err.split('\n')).toEqual([
      `${bad}: line 3: port: Too big: expected number to be <=65535`,
      `${bad}: line 4: localUser: required`,
      `${bad}: line 5: password: give either the user password or an admin login`,
      `${bad}: line 6: localUser: the same local user and remote account as line 2`,
      '4 bad line(s): nothing created',
    ]);
    expect(r.err + r.out).not.toMatch(/secret-/);
    expect((await fleet()).totals.tasks).toBe(0);
  });

  it('previews on the page without creating, then imports with the CLI, passwords sealed', async () => {
    const csv = readFileSync(join(dir, 'tasks.csv'), 'utf8');
    const preview = await call<ImportOutcome>(rt!, syncPage, 'POST', '/sync/import', { csv });
    expect(preview.errors).toEqual([]);
    expect(preview.rows).toHaveLength(ACCOUNTS + 1);
    expect(preview.rows[0]).toMatchObject({
      line: 2,
      localUser: localUser(0),
      login: 'admin vmail (separator)',
      exists: false,
    });
    expect(JSON.stringify(preview)).not.toContain(w.remote.masterPassword);
    expect((await fleet()).totals.tasks).toBe(0);

    const dry = await runCli(
      ['sync', 'import', join(dir, 'tasks.csv'), '--dry-run', '--config', config],
      registry,
    );
    expect(dry.code).toBe(0);
    expect(dry.out.split('\n').at(-1)).toBe(`dry run: ${ACCOUNTS + 1} task(s) would be created or replaced`);
    expect((await fleet()).totals.tasks).toBe(0);

    const r = await runCli(['sync', 'import', join(dir, 'tasks.csv'), '--config', config], registry);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out.split('\n').at(-1)).toBe(`${ACCOUNTS + 1} task(s) created, 0 replaced`);
    const stored = JSON.stringify(await rt!.redis.hgetall(rt!.key('imapsync-tasks')));
    expect(stored).toContain('mjs2.');
    expect(stored).not.toContain(w.remote.masterPassword);
    const f = await fleet('not-started');
    expect(f.tasks).toHaveLength(ACCOUNTS + 1);
    expect(f.totals).toMatchObject({ tasks: ACCOUNTS + 1, done: 0, notStarted: ACCOUNTS + 1 });
  });

  it(`starts all at once, cancels some while queued, starts them again; all complete under a host cap of ${CAP}, every message once`, async () => {
    const started = await bulk('start');
    expect(started.results).toHaveLength(ACCOUNTS + 1);
    expect(new Set(started.results.map((r) => r.status))).toEqual(new Set(['queued']));
    // No worker yet: every task waits, so cancelling removes the jobs before they run.
    const some = [0, 1, 2].map((i) => target(localUser(i), remoteUser(i)));
    expect((await bulk('cancel', some)).results.map((r) => r.status)).toEqual([
      'removed',
      'removed',
      'removed',
    ]);
    const queued = await fleet('running');
    expect(queued.totals).toMatchObject({ queued: ACCOUNTS + 1 - 3, notStarted: 3 });
    // Start again: only the three without a job are queued.
    expect((await bulk('start')).results.map((r) => r.target).sort()).toEqual([...some].sort());

    // Held at the proxy, the runs with a slot stay in session: the cap is reached on any machine,
    // and the worker's other slots find the host full.
    proxy.hold();
    workers = startTestWorkers(rt!, [imapsyncJob]);
    const queue = rt!.queues.get('imapsync')!;
    await expect.poll(() => proxy.connections, { timeout: 60_000 }).toBe(CAP);
    await expect
      .poll(
        async () =>
          (await queue.getDelayed()).some((j) => (j.progress as { waiting?: string }).waiting === 'slot'),
        { timeout: 60_000 },
      )
      .toBe(true);
    expect(proxy.connections).toBe(CAP);
    proxy.release();
    await expect
      .poll(async () => (await fleet()).totals, { timeout: 900_000, interval: 1000 })
      .toMatchObject({ done: ACCOUNTS, failed: 1, running: 0, queued: 0 });
    // Every run went through the proxy, never more than the cap at once.
    expect(proxy.accepted).toBeGreaterThanOrEqual(ACCOUNTS + 1);
    expect(proxy.peak).toBe(CAP);

    const f = await fleet();
    const perAccount = FOLDERS.length * PER_FOLDER;
    const bytes = [...seeded.values()].flat().reduce((n, m) => n + m.raw.length, 0);
    expect(f.totals).toMatchObject({
      tasks: ACCOUNTS + 1,
      messagesCopied: ACCOUNTS * perAccount,
      bytesMoved: bytes,
      etaSeconds: 0,
    });
    const row = f.tasks.find((t) => t.target === target(localUser(7), remoteUser(7)))!;
    expect(row).toMatchObject({
      state: 'done',
      lastResult: 'ok',
      messages: { copied: perAccount, done: perAccount, total: perAccount },
      bytes: { copied: seeded.get(7)!.reduce((n, m) => n + m.raw.length, 0), totalFinal: true },
    });

    // Each run's last progress counts bytes against a final total.
    const jobs = await queue.getJobs(['completed']);
    expect(jobs.length).toBeGreaterThanOrEqual(ACCOUNTS);
    for (const j of jobs) {
      const p = j.progress as Record<string, unknown>;
      expect(p).toMatchObject({
        bytesTotal: p.bytes,
        bytesTotalFinal: true,
        copied: perAccount,
        total: perAccount,
      });
      expect(p.bytes).toBeGreaterThan(0);
    }
    for (let i = 0; i < ACCOUNTS; i++) {
      const [src, dst] = await Promise.all([
        snapshot(w.remote, remoteUser(i)),
        snapshot(w.local, localUser(i)),
      ]);
      for (const folder of FOLDERS)
        expect(contents(dst.get(folder)), `${localUser(i)} ${folder}`).toEqual(contents(src.get(folder)));
      expect(await w.local.storedMessages(localUser(i))).toBe(perAccount);
    }
  }, 1_000_000);

  it('shows the failed task with its error, and Retry failed queues it alone', async () => {
    const failed = await fleet('failed');
    expect(failed.tasks).toHaveLength(1);
    expect(failed.tasks[0]).toMatchObject({
      target: target('bulk-lbad', 'bulk-rbad'),
      state: 'failed',
      lastResult: 'auth_failed_source',
    });
    expect(failed.tasks[0]!.lastError).toMatch(/bulk-rbad/);
    expect(failed.tasks[0]!.lastError).not.toContain('wrong-password');
    const retried = await bulk('retry-failed');
    expect(retried.results).toEqual([
      { target: target('bulk-lbad', 'bulk-rbad'), status: 'queued', jobId: expect.any(String) },
    ]);
    await expect.poll(async () => (await fleet('failed')).tasks.length, { timeout: 120_000 }).toBe(1);
  }, 200_000);

  it('a running task shows its bytes and messages moving; Cancel stops it, Retry failed continues it', async () => {
    // A slow remote on purpose: the run lasts long enough to be seen running on any machine.
    const proxy = await TcpProxy.start(w.remote.imapsPort!, { downBytesPerSecond: 8 * 1024 });
    try {
      const r = await w.remote.addUser('bulk-rslow');
      await w.local.addUser('bulk-lslow');
      const body = 'A line to give the message some weight.\r\n'.repeat(60);
      // Six folders: progress moves a folder's batch at a time.
      const slowFolders = ['INBOX', 'Eins', 'Zwei', 'Drei', 'Vier', 'Fuenf'];
      await seed(
        w.remote,
        r.user,
        slowFolders.flatMap((folder, f) =>
          Array.from({ length: 10 }, (_, k) => ({
            folder,
            raw: makeMessage(`slow-${f}-${k}`, { body }),
            flags: [],
            internalDate: new Date(Date.UTC(2022, 0, 1 + k)),
          })),
        ),
      );
      const csv = `localUser,host,username,password,port,security,verifyCertificate\nbulk-lslow,127.0.0.1,${r.user},${r.password},${proxy.port},tls,false\n`;
      expect(
        (await call<ImportOutcome>(rt!, syncPage, 'POST', '/sync/import', { csv, create: true })).created,
      ).toBe(1);
      const slow = target('bulk-lslow', r.user);
      expect((await bulk('start', [slow])).results).toMatchObject([{ target: slow, status: 'queued' }]);
      const row = async () => (await fleet('running')).tasks.find((t) => t.target === slow);
      await expect
        .poll(async () => (await row())?.bytes.copied ?? 0, { timeout: 120_000, interval: 200 })
        .toBeGreaterThan(0);
      const running = (await row())!;
      expect(running).toMatchObject({ state: 'running', messages: { total: 60 } });
      expect(running.bytes.total).toBeGreaterThanOrEqual(running.bytes.copied);
      expect(running.messages.done).toBeLessThan(60);
      expect((await fleet()).totals.running).toBe(1);

      expect((await bulk('cancel', [slow])).results).toMatchObject([{ target: slow, status: 'cancelling' }]);
      const failed = async () => (await fleet('failed')).tasks.find((t) => t.target === slow);
      await expect.poll(async () => (await failed())?.state, { timeout: 60_000 }).toBe('cancelled');
      proxy.throttle({});
      expect((await bulk('retry-failed', [slow])).results).toMatchObject([
        { target: slow, status: 'queued' },
      ]);
      const done = async () => (await fleet('done')).tasks.find((t) => t.target === slow);
      await expect
        .poll(async () => (await done())?.messages, { timeout: 120_000 })
        .toEqual({ copied: expect.any(Number), done: 60, total: 60 });
      expect(await w.local.storedMessages('bulk-lslow')).toBe(60);
      await call(rt!, syncPage, 'POST', '/sync/bulk', { action: 'cancel', targets: [] }); // nothing runs: no-op
    } finally {
      // The totals below are those of the import's 51 tasks.
      const removed = await runCli(
        ['sync', 'remove', target('bulk-lslow', 'bulk-rslow'), '--config', config],
        registry,
      );
      expect(removed.out).toBe('1 task(s) removed');
      await proxy.close();
    }
  }, 400_000);

  it('a whole domain in one config entry runs one task per user through the remote master login', async () => {
    const users = ['dom-a', 'dom-b'];
    for (const u of users) {
      await w.remote.addUser(`${u}-r`);
      await w.local.addUser(`${u}-r`);
      await seed(w.remote, `${u}-r`, messagesOf(100 + users.indexOf(u)));
    }
    const secret = join(dir, 'master.secret');
    writeFileSync(secret, w.remote.masterPassword, { mode: 0o600 });
    // writeSyncConfig ends with `sync: []`: the domain entry takes its place.
    const domainConfig = writeSyncConfig(w, []);
    const domainEntry = [
      'sync:',
      '  - id: dom',
      `    remote: { host: 127.0.0.1, port: ${w.remote.imapsPort}, security: tls, verifyCertificate: false, admin: { user: vmail, passwordFile: ${secret} }, users: [${users.map((u) => `${u}-r`).join(', ')}] }`,
    ];
    writeFileSync(
      domainConfig,
      readFileSync(domainConfig, 'utf8').replace(/^sync: \[\]$/m, domainEntry.join('\n')),
    );
    const drt = await openRuntime({
      configFlag: domainConfig,
      jobs: registry,
      log: silentLog,
      startPrivateRedis: false,
    });
    const dworkers = startTestWorkers(drt, [imapsyncJob]);
    try {
      const started = await call<{ results: { target: string; status: string }[] }>(
        drt,
        syncPage,
        'POST',
        '/sync/bulk',
        { action: 'start' },
      );
      expect(started.results.map((r) => [r.target, r.status])).toEqual(
        users.map((u) => [`dom/${u}-r`, 'queued']),
      );
      await expect
        .poll(async () => (await call<Fleet>(drt, syncPage, 'GET', '/sync/fleet', {})).totals.done, {
          timeout: 180_000,
        })
        .toBe(2);
      const f = await call<Fleet>(drt, syncPage, 'GET', '/sync/fleet', {});
      expect(f.tasks.map((t) => [t.target, t.kind, t.remote, t.localUser])).toEqual(
        users.map((u) => [`dom/${u}-r`, 'config', `${u}-r@127.0.0.1`, `${u}-r`]),
      );
      for (const u of users) expect(await w.local.storedMessages(`${u}-r`)).toBe(FOLDERS.length * PER_FOLDER);
    } finally {
      await dworkers.close();
      await drt.close();
    }
  }, 300_000);

  it('mailjobs status --sync says the same, as text and as JSON', async () => {
    const json = await runCli(['status', '--sync', '--json', '--config', config], registry);
    expect(json.code).toBe(1); // a task failed
    const f = JSON.parse(json.out) as Fleet;
    expect(f.totals).toMatchObject({
      tasks: ACCOUNTS + 1,
      done: ACCOUNTS,
      failed: 1,
      messagesCopied: ACCOUNTS * FOLDERS.length * PER_FOLDER,
    });
    const text = await runCli(['status', '--sync', '--filter', 'failed', '--config', config], registry);
    const [head, ...rows] = text.out.split('\n');
    expect(head).toMatch(
      new RegExp(
        `^SYNC: ${ACCOUNTS} of ${ACCOUNTS + 1} accounts done, 0 running, 0 queued, 1 failed, 0 not started; [\\d.]+ (kB|MB) moved, ${ACCOUNTS * FOLDERS.length * PER_FOLDER} messages; ETA`,
      ),
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain('failed      adhoc:bulk-lbad<bulk-rbad@127.0.0.1');
    expect(rows[0]).toContain('last auth_failed_source');
    const bad = await runCli(['status', '--sync', '--filter', 'broken', '--config', config], registry);
    expect(bad.code).toBe(2);
    expect(bad.err.split('\n')[0]).toBe(
      'mailjobs status: --filter must be one of all, failed, running, not-started, done',
    );
  });
});
