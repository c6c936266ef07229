/**
 * A dead run does not block its account: a real `mailjobs run getmail` process holding the
 * account's lock (stuck waiting for the remote's greeting) is killed with -9; the next run, or
 * a worker, on this host takes the lock over at once instead of answering "already running"
 * until it expires. While the holder lives, `run` exits 75 naming it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getmailJob } from '../../src/jobs/getmail/index.js';
import { stateKey } from '../../src/core/redis.js';
import { freshPrefix } from '../helpers/runtime.js';
import { exited } from '../helpers/worker-process.js';
import {
  deliverTo,
  mailbox,
  message,
  runGetmail,
  startGetmailWorkers,
  traces,
  useWorld,
  writeWorldConfig,
} from './world.js';

const w = useWorld();
const children: ChildProcess[] = [];
let redis: Redis;
beforeAll(() => {
  redis = new Redis(w.redis.url);
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await redis?.quit();
});

/**
 * A port in front of the remote whose first connection is accepted and never answered (the
 * run that made it waits for a greeting, holding its lock); later connections pass through.
 */
async function stallFirstConnection(targetPort: number) {
  const sockets = new Set<Socket>();
  let stalledNow!: () => void;
  const stalled = new Promise<void>((resolve) => (stalledNow = resolve));
  let accepted = 0;
  const server = createServer((client) => {
    const track = (s: Socket) =>
      sockets.add(s.on('error', () => undefined).on('close', () => sockets.delete(s)));
    track(client);
    if (++accepted === 1) return stalledNow();
    const upstream = connect(targetPort, '127.0.0.1');
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    stalled,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** An account of 3 messages behind a stalling door, its config, and its lock's key. */
async function account(name: string) {
  const remote = await w.remote.addUser(`r-${name}`);
  const local = await w.local.addUser(`l-${name}`);
  await deliverTo(
    w.remote,
    remote.user,
    [1, 2, 3].map((i) => message(`${name}-${i}`)),
  );
  const door = await stallFirstConnection(w.remote.pop3sPort!);
  const id = `${name}@remote.test`;
  const prefix = freshPrefix();
  const config = writeWorldConfig(
    w,
    [
      {
        id,
        protocol: 'pop3',
        user: remote.user,
        password: remote.password,
        deliverTo: local.user,
        port: door.port,
      },
    ],
    // A lock that would outlive the test: only a takeover lets the next run in.
    'workers: { lockDurationSeconds: 600 }\ngetmail: { connectTimeoutSeconds: 600 }',
    prefix,
  );
  return { id, local, door, config, lock: stateKey(prefix, 'lock', 'getmail', id) };
}

/** Starts `mailjobs run getmail` for `a`; resolves once it holds the lock and waits on the door. */
async function stuckRun(a: Awaited<ReturnType<typeof account>>): Promise<ChildProcess> {
  const payload = JSON.stringify({ account: a.id });
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli.ts', 'run', 'getmail', payload, '--config', a.config],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MAILJOBS_LOG_LEVEL: 'warn' } },
  );
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const first = await Promise.race([
    a.door.stalled.then(() => 'stalled'),
    exited(child).then(() => 'exited'),
  ]);
  if (first === 'exited') throw new Error(`the run exited early (${child.exitCode}): ${stderr}`);
  expect(await redis.exists(a.lock)).toBe(1); // taken before the remote is dialled
  return child;
}

it('a live run is named (exit 75); once it is killed -9 the next run takes over at once and fetches', async () => {
  const a = await account('dead-run');
  try {
    const holder = await stuckRun(a);

    const busy = await runGetmail(a.config, a.id);
    expect(busy.code).toBe(75);
    const line = new RegExp(
      `^busy: the getmail target is held by job run-[0-9a-f-]{36} on ${hostname()} \\(pid ${holder.pid}\\), ` +
        'lock expires at (\\S+Z) \\(in \\d+ s\\); try again later$',
    );
    expect(busy.err).toMatch(line);
    const expiresAt = Date.parse(line.exec(busy.err)![1]!);
    expect(expiresAt).toBeGreaterThan(Date.now());
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);

    holder.kill('SIGKILL');
    await exited(holder);
    expect(await redis.pttl(a.lock)).toBeGreaterThan(0); // the dead run's lock has not expired

    const next = await runGetmail(a.config, a.id);
    expect(next).toMatchObject({ code: 0, result: { fetched: 3, delivered: 3 } });
    expect(traces(await mailbox(w.local, a.local.user))).toHaveLength(3);
    expect(await redis.exists(a.lock)).toBe(0); // released after the run
  } finally {
    await a.door.close();
  }
});

it('a worker finding the lock of a killed run takes over and fetches (a scheduled tick)', async () => {
  const a = await account('dead-run-worker');
  const workers = await startGetmailWorkers(w, a.config);
  try {
    const holder = await stuckRun(a);
    holder.kill('SIGKILL');
    await exited(holder);
    // Added as a job scheduler adds its ticks: straight into the queue, no enqueue-time lock check.
    const job = await workers.queue.add(getmailJob.name, { account: a.id });
    const result = await job.waitUntilFinished(workers.events, 30_000);
    expect(result).toMatchObject({ fetched: 3, delivered: 3 });
    expect(new Set(traces(await mailbox(w.local, a.local.user))).size).toBe(3);
  } finally {
    await workers.close();
    await a.door.close();
  }
});
