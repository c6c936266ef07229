/**
 * Exactly once under kill -9: a real `mailjobs worker` process fetching 500 messages is
 * killed twice at arbitrary moments; after a restart every remote message is in the local
 * mailbox exactly once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { enqueueJob } from '../../src/client/enqueue.js';
import { loadConfig } from '../../src/config/load.js';
import { closeQueues, openQueues } from '../../src/core/queues.js';
import { getmailJob } from '../../src/jobs/getmail/index.js';
import { registry } from '../../src/jobs/registry.js';
import { openEvents } from '../helpers/runtime.js';
import {
  countMessages,
  deliverTo,
  mailbox,
  message,
  startWorld,
  traces,
  writeWorldConfig,
  type World,
} from './world.js';

const COUNT = 500;
let w: World;
const children: ChildProcess[] = [];
beforeAll(async () => {
  w = await startWorld();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await w?.stop();
});

function worker(configFile: string): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'worker', '--config', configFile], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, MAILJOBS_LOG_LEVEL: 'warn' },
  });
  children.push(child);
  return child;
}

const killed = (c: ChildProcess) =>
  new Promise<void>((r) => (c.exitCode !== null || c.signalCode ? r() : c.once('exit', () => r())));

it(`kill -9 twice during a ${COUNT}-message fetch, then finish: every message once`, async () => {
  const remote = await w.remote.addUser('r-crash');
  const local = await w.local.addUser('l-crash');
  const body = 'Line of text to give the message some weight.\r\n'.repeat(40);
  await deliverTo(
    w.remote,
    remote.user,
    Array.from({ length: COUNT }, (_, i) => message(`crash-${i}`, body)),
  );
  const id = 'crash@remote.test';
  const file = writeWorldConfig(w, [
    {
      id,
      protocol: 'pop3',
      user: remote.user,
      password: remote.password,
      deliverTo: local.user,
      delete: 'immediately',
    },
  ]);
  const config = loadConfig(file, {});
  const redis = new Redis(w.redis.url);
  const queues = openQueues(registry, w.redis.url, config.redis.prefix);
  const events = await openEvents('getmail', w.redis.url, config.redis.prefix);
  try {
    const { jobId } = await enqueueJob(
      queues.get('getmail')!,
      getmailJob,
      { account: id },
      { redis, prefix: config.redis.prefix },
    );
    for (const killAfter of [60 + Math.floor(Math.random() * 80), 220 + Math.floor(Math.random() * 80)]) {
      const victim = worker(file);
      await expect
        .poll(() => countMessages(w.local, local.user), { timeout: 60_000, interval: 20 })
        .toBeGreaterThanOrEqual(killAfter);
      victim.kill('SIGKILL');
      await killed(victim);
    }
    const survivor = worker(file);
    const job = (await queues.get('getmail')!.getJob(jobId))!;
    await job.waitUntilFinished(events, 120_000);
    survivor.kill('SIGTERM');
    await killed(survivor);

    const delivered = await mailbox(w.local, local.user);
    const values = traces(delivered);
    expect(values).toHaveLength(COUNT);
    expect(new Set(values).size).toBe(COUNT);
    const ids = delivered.map((m) => /Message-ID: <(crash-\d+)@/.exec(m.source.toString('latin1'))?.[1]);
    expect(new Set(ids).size).toBe(COUNT);
    expect(await mailbox(w.remote, remote.user)).toHaveLength(0); // delete: immediately, after delivery
    expect(await redis.hlen(`{${config.redis.prefix}}:state:getmail:${id}:inflight`)).toBe(0);
  } finally {
    await events.close();
    await closeQueues(queues);
    await redis.quit();
  }
}, 240_000);
