/**
 * getmail when things go wrong: certificate checks, wrong passwords (no retry storm), a
 * missing local user, per-run limits, servers that change UIDVALIDITY or renumber UIDLs, and
 * a delivery interrupted between LMTP's 250 and our bookkeeping.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeenUidStore } from '../../src/jobs/getmail/state.js';
import { traceValue } from '../../src/jobs/getmail/trace.js';
import { stateKey } from '../../src/core/redis.js';
import { registry } from '../../src/jobs/registry.js';
import { RunRecordStore } from '../../src/worker/run-record.js';
import { runCli } from '../helpers/runtime.js';
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
let redis: Redis;
beforeAll(() => {
  redis = new Redis(w.redis.url);
});
afterAll(async () => {
  await redis?.quit();
});

async function account(name: string, messages: number) {
  const remote = await w.remote.addUser(`r-${name}`);
  const local = await w.local.addUser(`l-${name}`);
  await deliverTo(
    w.remote,
    remote.user,
    Array.from({ length: messages }, (_, i) => message(`${name}-${i}`)),
  );
  return { remote, local, id: `${name}@remote.test` };
}

describe('getmail failures', () => {
  it('with certificate verification on, a self-signed server fails clearly and nothing is delivered', async () => {
    const a = await account('tlsverify', 1);
    for (const protocol of ['pop3', 'imap'] as const) {
      const config = writeWorldConfig(w, [
        {
          id: a.id,
          protocol,
          user: a.remote.user,
          password: a.remote.password,
          deliverTo: a.local.user,
          verifyCertificate: true,
        },
      ]);
      const run = await runGetmail(config, a.id);
      expect(run.code).toBe(1);
      expect(run.err).toMatch(/certificate/i);
      expect(run.err).toContain('127.0.0.1');
    }
    expect(await mailbox(w.local, a.local.user)).toHaveLength(0);
  });

  it('a wrong password fails once, not retried, naming the account and host', async () => {
    const a = await account('wrongpw', 1);
    const file = writeWorldConfig(w, [
      {
        id: a.id,
        protocol: 'imap',
        user: a.remote.user,
        password: 'not-the-password',
        deliverTo: a.local.user,
      },
    ]);
    const h = await startGetmailWorkers(w, file);
    const { config } = h;
    try {
      const queued = await h.enqueue(a.id);
      const job = (await h.queue.getJob(queued.jobId))!;
      await expect(job.waitUntilFinished(h.events, 20_000)).rejects.toThrow(/wrongpw@remote\.test|r-wrongpw/);
      const failed = (await h.queue.getJob(queued.jobId))!;
      expect(failed.attemptsMade).toBe(1);
      expect(failed.failedReason).toContain('127.0.0.1');
      expect(failed.failedReason).not.toContain('not-the-password');
      expect(await h.queue.getDelayedCount()).toBe(0); // no retry scheduled
      const key = (...parts: string[]) => stateKey(config.redis.prefix, ...parts);
      expect(await new RunRecordStore(redis, key).read('getmail', a.id)).toMatchObject({
        consecutiveFailures: 1,
        lastErrorPermanent: true,
      });
      // `mailjobs status` marks the connector critical at once (no retry can fix it) and says why
      const status = await runCli(['status', 'getmail', '--config', file], registry);
      expect(status.code).toBe(2);
      expect(status.out).toMatch(
        new RegExp(
          `^  ! ${a.id}  imap://127\\.0\\.0\\.1 → ${a.local.user}: failing \\(1x\\) since .*: .*127\\.0\\.0\\.1`,
          'm',
        ),
      );
    } finally {
      await h.close();
    }
  });

  it('a connector whose local user does not exist delivers nowhere and says so', async () => {
    const a = await account('nouser', 2);
    const config = writeWorldConfig(w, [
      {
        id: a.id,
        protocol: 'pop3',
        user: a.remote.user,
        password: a.remote.password,
        deliverTo: 'ghost',
        delete: 'immediately',
      },
    ]);
    const run = await runGetmail(config, a.id);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/local user "ghost" does not exist/);
    expect(await mailbox(w.remote, a.remote.user)).toHaveLength(2);
  });

  it('per-run limits leave the rest for the next run; oversized messages stay on the server', async () => {
    const a = await account('limits', 5);
    await deliverTo(w.remote, a.remote.user, [message('limits-big', `${'x'.repeat(76)}\r\n`.repeat(30_000))]);
    const config = writeWorldConfig(
      w,
      [
        {
          id: a.id,
          protocol: 'pop3',
          user: a.remote.user,
          password: a.remote.password,
          deliverTo: a.local.user,
        },
      ],
      'getmail: { maxMessagesPerRun: 3, maxMessageMegabytes: 1 }',
    );
    expect((await runGetmail(config, a.id)).result).toMatchObject({ delivered: 3, deferred: 2, tooBig: 1 });
    expect((await runGetmail(config, a.id)).result).toMatchObject({ delivered: 2, deferred: 0, tooBig: 1 });
    expect(await mailbox(w.local, a.local.user)).toHaveLength(5);
  });

  it('after the server renumbers its UIDs (new UIDVALIDITY, new UIDLs), nothing is delivered twice', async () => {
    for (const protocol of ['pop3', 'imap'] as const) {
      const a = await account(`renumber-${protocol}`, 3);
      const config = writeWorldConfig(w, [
        { id: a.id, protocol, user: a.remote.user, password: a.remote.password, deliverTo: a.local.user },
      ]);
      expect((await runGetmail(config, a.id)).result).toMatchObject({ delivered: 3 });
      // Dovecot rebuilds its UID list with a new UIDVALIDITY when the list is gone.
      const home = join(w.remote.dir, 'mail', a.remote.user);
      await rm(join(home, 'Maildir', 'dovecot-uidlist'), { force: true });
      await rm(join(home, 'Maildir', 'dovecot.index'), { force: true });
      await rm(join(home, 'Maildir', 'dovecot.index.log'), { force: true });
      await rm(join(home, 'Maildir', 'dovecot.index.cache'), { force: true });
      await deliverTo(w.remote, a.remote.user, [message(`renumber-${protocol}-new`)]);
      const again = await runGetmail(config, a.id);
      expect(again.result).toMatchObject({ fetched: 4, delivered: 1, duplicates: 3 });
      expect(await mailbox(w.local, a.local.user)).toHaveLength(4);
    }
  });

  it('a delivery interrupted after LMTP accepted it is found by its trace header, not delivered again', async () => {
    const a = await account('inflight', 2);
    const prefix = `inflight${Date.now()}`;
    const config = writeWorldConfig(
      w,
      [
        {
          id: a.id,
          protocol: 'imap',
          user: a.remote.user,
          password: a.remote.password,
          deliverTo: a.local.user,
        },
      ],
      '',
      prefix,
    );
    // The state a crash leaves: the account has state (a run began; no rebuild from the mailbox
    // then), message 1 delivered with its trace header, still marked in flight.
    await new SeenUidStore(redis, (...parts) => stateKey(prefix, ...parts), a.id, 3600).seed([]);
    const remote = await mailbox(w.remote, a.remote.user);
    const uidValidity = (
      await w.remote.doveadm(['mailbox', 'status', '-u', a.remote.user, 'uidvalidity', 'INBOX'])
    ).stdout
      .trim()
      .split('=')[1]!;
    const first = remote[0]!;
    const trace = traceValue(a.id, 'INBOX', uidValidity, String(first.uid));
    await deliverTo(w.local, a.local.user, [
      Buffer.concat([Buffer.from(`X-Mailjobs-Fetched: ${trace}\r\n`), first.source]),
    ]);
    await redis.hset(
      `{${prefix}}:state:getmail:${a.id}:inflight`,
      `INBOX:${uidValidity}/${first.uid}`,
      Date.now(),
    );

    const run = await runGetmail(config, a.id);
    expect(run.result).toMatchObject({ recovered: 1, delivered: 1, fetched: 1 });
    const local = await mailbox(w.local, a.local.user);
    expect(local).toHaveLength(2);
    expect(traces(local).sort()).toEqual(
      [trace, traceValue(a.id, 'INBOX', uidValidity, String(remote[1]!.uid))].sort(),
    );
    expect(await redis.hlen(`{${prefix}}:state:getmail:${a.id}:inflight`)).toBe(0);
  });
});
