/**
 * Exactly once under kill -9: a real `mailjobs worker` process fetching 500 messages is
 * killed twice at arbitrary moments; after a restart every remote message is in the local
 * mailbox exactly once.
 */
import { afterAll, expect, it } from 'vitest';
import { getmailJob } from '../../src/jobs/getmail/index.js';
import { openJobClient } from '../helpers/job-client.js';
import { exited, workerProcesses } from '../helpers/worker-process.js';
import { deliverTo, mailbox, message, traces, useWorld, writeWorldConfig } from './world.js';

const COUNT = 500;
const w = useWorld();
const workers = workerProcesses('warn');
afterAll(() => {
  workers.killAll();
});

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
  const client = await openJobClient(w.redis.url, file, getmailJob);
  const { config, redis } = client;
  try {
    const { jobId } = await client.enqueue({ account: id });
    for (const killAfter of [60 + Math.floor(Math.random() * 80), 220 + Math.floor(Math.random() * 80)]) {
      const victim = workers.start(file);
      await expect
        .poll(() => w.local.storedMessages(local.user), { timeout: 60_000, interval: 20 })
        .toBeGreaterThanOrEqual(killAfter);
      victim.kill('SIGKILL');
      await exited(victim);
    }
    const survivor = workers.start(file);
    const job = (await client.queue.getJob(jobId))!;
    await job.waitUntilFinished(client.events, 120_000);
    survivor.kill('SIGTERM');
    await exited(survivor);

    const delivered = await mailbox(w.local, local.user);
    const values = traces(delivered);
    expect(values).toHaveLength(COUNT);
    expect(new Set(values).size).toBe(COUNT);
    const ids = delivered.map((m) => /Message-ID: <(crash-\d+)@/.exec(m.source.toString('latin1'))?.[1]);
    expect(new Set(ids).size).toBe(COUNT);
    expect(await mailbox(w.remote, remote.user)).toHaveLength(0); // delete: immediately, after delivery
    expect(await redis.hlen(`{${config.redis.prefix}}:state:getmail:${id}:inflight`)).toBe(0);
  } finally {
    await client.close();
  }
}, 240_000);
