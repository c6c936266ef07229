/**
 * Bayes training end to end, with the README's Dovecot configuration, sieve scripts and sh
 * spooler (contrib/dovecot/, only relocated): a user's IMAP MOVE into Junk runs the spooler
 * through IMAPSieve, the worker's spool watcher queues it, the bayes-learn job learns it in a
 * real Rspamd whose Bayes lives in its own Redis, and Rspamd's own counters are the proof.
 * Installed as the README says: contrib/dovecot/ unchanged, after Debian's 90-sieve*.conf.
 * Also: out of Junk is ham, to the \Trash folder is nothing, a message copied twice is learned
 * once, a non-member of the trainers group trains nothing, a too-big message is not spooled, an
 * imapsync migration into Junk trains nothing, and with the queue Redis down the move still
 * works and the message is learned once it is back.
 */
import { readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { openQueue } from '../../src/core/queues.js';
import { connectRedis, stateKey, type RedisClient } from '../../src/core/redis.js';
import { bayesLearnJob } from '../../src/jobs/bayes-learn/index.js';
import { LearnedStore } from '../../src/jobs/bayes-learn/learned.js';
import { registry } from '../../src/jobs/registry.js';
import { stat as rspamdStat } from '../../src/mail/rspamd.js';
import type { WorkerSet } from '../../src/worker/workers.js';
import { startDovecot, type DovecotFixture } from '../fixtures/dovecot.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { startRspamd, type RspamdFixture } from '../fixtures/rspamd.js';
import { makeTempDir, removeTempDir } from '../fixtures/service.js';
import { masterSession } from '../helpers/master-session.js';
import { freshPrefix, runCli, startTestWorkers } from '../helpers/runtime.js';
import {
  compileScripts,
  includeLine,
  installContrib,
  installIn,
  ownSpool,
  type Install,
} from './imapsieve.js';
import { wordyMessage } from './mailboxes.js';
import { startRestartableRedis, type RestartableRedis } from './restartable-redis.js';
import { createSystemGroup, type SystemGroup } from './system-group.js';

let queues: RestartableRedis;
let bayesRedis: RedisFixture;
let rspamd: RspamdFixture;
let fx: DovecotFixture;
let dir: string;
let r: Install;
let group: SystemGroup;
let state: RedisClient;
let worker: WorkerSet;
let configFile: string;
const prefix = freshPrefix();
const passwords = new Map<string, string>();
/** The worker's warnings, to see its spool watcher fail while the queue Redis is down. */
const warnings: string[] = [];
const workerLog = pino(
  { level: 'warn' },
  { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) },
);
/** How many times the watcher found Redis away and left the spool as it was. */
const spoolKeptWarnings = () => warnings.filter((m) => m.endsWith('and the rest stay spooled')).length;

beforeAll(async () => {
  [queues, bayesRedis, group] = await Promise.all([
    startRestartableRedis(),
    startRedis(),
    createSystemGroup(),
  ]);
  rspamd = await startRspamd({ redisUrl: bayesRedis.url });
  dir = await makeTempDir('learn-e2e');
  r = installIn(dir);
  await installContrib(r, 64);
  fx = await startDovecot({ imapsieve: includeLine(r) });
  await ownSpool(r, await stat(path.join(fx.dir, 'mail')));
  await compileScripts(r, fx.configFile);
  configFile = path.join(dir, 'mailjobs.yaml');
  await writeFile(
    configFile,
    [
      `redis: { url: "${queues.url}", prefix: ${prefix} }`,
      'workers: { lockDurationSeconds: 5 }',
      `rspamd: { url: "${rspamd.normalUrl}", controllerUrl: "${rspamd.controllerUrl}", passwordFile: ${rspamd.passwordFile}, timeoutSeconds: 10 }`,
      `bayesLearn: { spoolDir: ${r.spoolDir}, spoolScanSeconds: 1, maxMessageKilobytes: 64, trainers: { group: ${group.group} } }`,
      // A migration of bob's mailbox into the trainer's, through the local master user.
      `dovecot: { imap: { host: 127.0.0.1, port: ${fx.imapPort}, security: none }, masterUser: vmail, masterPasswordFile: ${fx.masterPasswordFile} }`,
      `secrets: { keyFile: ${path.join(dir, 'secrets.key')} }`,
      'sync:',
      `  - { id: migration, localUser: ${group.member}, remote: { host: 127.0.0.1, port: ${fx.imapPort}, security: none, username: bob, passwordFile: ${path.join(dir, 'bob.password')} } }`,
      '',
    ].join('\n'),
  );
  for (const u of [group.member, 'bob']) passwords.set(u, (await fx.addUser(u)).password);
  await writeFile(path.join(dir, 'bob.password'), passwords.get('bob')!, { mode: 0o600 });
  state = connectRedis(queues.url);
  state.on('error', () => undefined); // the Redis-down test stops it on purpose
  const config = loadConfig(configFile, {});
  worker = startTestWorkers(
    { config, redisSettings: { url: queues.url }, redis: state },
    [bayesLearnJob],
    workerLog,
  );
}, 180_000);

afterAll(async () => {
  const results: PromiseSettledResult<unknown>[] = await Promise.allSettled([
    worker?.close(),
    fx?.stop(),
    rspamd?.stop(),
    group?.remove(),
  ]);
  state?.disconnect();
  results.push(
    ...(await Promise.allSettled([queues?.stop(), bayesRedis?.stop(), dir ? removeTempDir(dir) : undefined])),
  );
  const failed = results.find((x) => x.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
});

/** Logs in as the user (their own password, like a mail client) and runs `work`. */
async function asUser(user: string, work: (c: ImapFlow) => Promise<unknown>): Promise<void> {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: fx.imapPort,
    secure: false,
    auth: { user, pass: passwords.get(user)! },
    logger: false,
  });
  await c.connect();
  try {
    await work(c);
  } finally {
    await c.logout();
  }
}

/** Moves (or copies) the messages with these Message-IDs from `from` to `to`, in one command. */
async function move(user: string, from: string, to: string, ids: string[], copy = false): Promise<void> {
  await asUser(user, async (c) => {
    await c.mailboxOpen(from);
    const uids = await c.search(
      { or: ids.map((id) => ({ header: { 'message-id': `<${id}@` } })) },
      { uid: true },
    );
    expect(uids, `${ids.join(',')} in ${from}`).toHaveLength(ids.length);
    const set = (uids as number[]).join(',');
    if (copy) await c.messageCopy(set, to, { uid: true });
    else await c.messageMove(set, to, { uid: true });
  });
}

const counts = () => new LearnedStore(state, (...p) => stateKey(prefix, ...p), 1).counts();
const spooled = async () => (await readdir(r.spoolDir)).filter((n) => n.endsWith('.learn'));

/** Waits until the job outcome counters reach `want` (each key at least). */
async function untilCounts(want: Record<string, number>): Promise<Record<string, number>> {
  let now: Record<string, number> = {};
  const reached = async () => {
    now = await counts().catch(() => now);
    return Object.fromEntries(Object.keys(want).map((k) => [k, Math.min(now[k] ?? 0, want[k]!)]));
  };
  // On a timeout the message names the spool's files and the end of Dovecot's log.
  const context = async () =>
    `spool: ${(await readdir(r.spoolDir).catch(() => [])).join(' ')}\n${fx.log().slice(-3000)}`;
  await expect
    .poll(reached, { timeout: 30_000, interval: 200 })
    .toEqual(want)
    .catch(async (err: Error) => {
      throw new Error(`${err.message}\n${await context()}`);
    });
  return now;
}

/**
 * Waits until what the moves so far caused has all happened: the spooler runs within the MOVE
 * (IMAPSieve pipes before the command is answered), a spooled file is removed only once its job
 * is queued, and the queue then has nothing waiting, running or due for a retry.
 */
async function untilSettled(): Promise<void> {
  const queue = openQueue(bayesLearnJob.name, queues.url, prefix);
  try {
    const pending = async () => {
      const jobs = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children');
      return { spooled: (await spooled()).length, ...jobs };
    };
    await expect
      .poll(pending, { timeout: 30_000 })
      .toEqual({ spooled: 0, wait: 0, active: 0, delayed: 0, prioritized: 0, 'waiting-children': 0 });
  } finally {
    await queue.close();
  }
}

const controller = () => ({ controllerUrl: rspamd.controllerUrl, password: rspamd.password });

describe('bayes-learn from IMAPSieve moves', () => {
  let before: { spam: number; ham: number; learnedSinceStart: number };

  it('a MOVE of 3 messages into Junk learns 3 spam; one back to INBOX is relearned as ham', async () => {
    const trainer = group.member;
    before = await rspamdStat(controller());
    await asUser(trainer, async (c) => {
      for (const id of ['m1', 'm2', 'm3', 'm4']) await c.append('INBOX', wordyMessage(id));
    });
    await move(trainer, 'INBOX', 'Junk', ['m1', 'm2', 'm3']);
    expect(await untilCounts({ 'learned-spam': 3 })).toEqual({ 'learned-spam': 3 });
    expect((await rspamdStat(controller())).learnedSinceStart).toBe(before.learnedSinceStart + 3);

    await move(trainer, 'Junk', 'INBOX', ['m1']);
    expect(await untilCounts({ 'learned-ham': 1 })).toEqual({ 'learned-spam': 3, 'learned-ham': 1 });
    expect(await spooled()).toEqual([]);
  });

  it('a move from Junk to Trash learns nothing; a message copied into Junk twice is learned once', async () => {
    const trainer = group.member;
    await move(trainer, 'Junk', 'Trash', ['m2']);
    await move(trainer, 'INBOX', 'Junk', ['m4'], true);
    await move(trainer, 'INBOX', 'Junk', ['m4'], true);
    await untilCounts({ 'learned-spam': 4 });
    // Everything those moves caused has happened (a stray job for the second copy, or a Trash
    // "ham", would have run): check none did.
    await untilSettled();
    const now = await counts();
    expect(now['learned-spam']).toBe(4);
    expect(now['learned-ham']).toBe(1);
    // The second copy: deduplicated while queued, or found already learned (no Rspamd call).
    expect(now['already-learned'] ?? 0).toBeLessThanOrEqual(1);
    expect((await rspamdStat(controller())).learnedSinceStart).toBe(before.learnedSinceStart + 5);
  });

  it("a non-member's move learns nothing while the trainers group exists; a too-big message is not spooled", async () => {
    await asUser('bob', (c) => c.append('INBOX', wordyMessage('b1')));
    await move('bob', 'INBOX', 'Junk', ['b1']);
    await untilCounts({ 'not-a-trainer': 1 });
    await asUser(group.member, (c) => c.append('INBOX', wordyMessage('big', 70 * 1024)));
    await move(group.member, 'INBOX', 'Junk', ['big']);
    // The spooler ran within the MOVE with the limit of sieve_env_mailjobs_max_kilobytes (64).
    expect(fx.log()).toContain(
      `mailjobs learn: user=${group.member} class=spam: not learned: over 65536 bytes`,
    );
    await untilSettled();
    const now = await counts();
    expect(now).toMatchObject({ 'learned-spam': 4, 'learned-ham': 1, 'not-a-trainer': 1 });
    expect(now['too-big']).toBeUndefined(); // never spooled, so never seen by the worker
    expect((await rspamdStat(controller())).learnedSinceStart).toBe(before.learnedSinceStart + 5);
  });

  it("an imapsync migration into the trainer's Junk (APPEND as user*vmail) learns nothing", async () => {
    const source = await masterSession(fx, 'bob');
    try {
      for (const id of ['mig1', 'mig2']) await source.append('Junk', wordyMessage(id));
    } finally {
      await source.logout();
    }
    const run = await runCli(
      ['run', 'imapsync', JSON.stringify({ task: 'migration' }), '--config', configFile],
      registry,
    );
    expect(run.code, run.err).toBe(0);
    await asUser(group.member, async (c) => {
      await c.mailboxOpen('Junk');
      const migrated = await c.search(
        { or: ['mig1', 'mig2', 'b1'].map((id) => ({ header: { 'message-id': `<${id}@` } })) },
        { uid: true },
      );
      expect(migrated).toHaveLength(3);
    });
    await untilSettled();
    expect(await counts()).toMatchObject({ 'learned-spam': 4, 'learned-ham': 1, 'not-a-trainer': 1 });
    expect((await rspamdStat(controller())).learnedSinceStart).toBe(before.learnedSinceStart + 5);
  });

  it('with the queue Redis down the move works and the message waits in the spool; learned once Redis is back', async () => {
    const trainer = group.member;
    await asUser(trainer, (c) => c.append('INBOX', wordyMessage('m7')));
    await queues.down();
    const triedBefore = spoolKeptWarnings();
    await move(trainer, 'INBOX', 'Junk', ['m7']);
    // The spooler ran within the MOVE (IMAPSieve pipes before the answer) without Redis: the
    // message is in Junk and its file in the spool as soon as the MOVE is answered.
    expect(await spooled()).toHaveLength(1);
    await asUser(trainer, async (c) => {
      await c.mailboxOpen('Junk');
      expect(await c.search({ header: { 'message-id': '<m7@' } }, { uid: true })).toHaveLength(1);
    });
    // The watcher tried to queue it (at once, then at its next scan) and failed: the file stays.
    await expect.poll(() => spoolKeptWarnings() - triedBefore, { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    expect(await spooled()).toHaveLength(1);

    await queues.up(); // empty: this Redis keeps nothing, as after losing its data
    const after = await untilCounts({ 'learned-spam': 1 });
    expect(after).toEqual({ 'learned-spam': 1 });
    expect(await spooled()).toEqual([]);
    expect((await rspamdStat(controller())).learnedSinceStart).toBe(before.learnedSinceStart + 6);
  });

  it("Rspamd's Bayes counters show spam and ham apart, and so does `mailjobs status`", async () => {
    // Rspamd re-reads its Redis counters every 30-60 s.
    let now = await rspamdStat(controller());
    const learned = async () => {
      now = await rspamdStat(controller());
      return now.ham === before.ham + 1 && now.spam >= before.spam + 4;
    };
    await expect.poll(learned, { timeout: 100_000, interval: 2000 }).toBe(true);
    expect(now.ham).toBe(before.ham + 1);
    expect([before.spam + 4, before.spam + 5]).toContain(now.spam);
    const run = await runCli(['run', 'bayes-stats', '{}', '--config', configFile], registry);
    expect(run.code, run.err).toBe(0);
    expect(JSON.parse(run.out)).toEqual({
      spam: now.spam,
      ham: now.ham,
      minLearns: 200,
      spamNeeded: 200 - now.spam,
      hamNeeded: 199,
      active: false,
    });
    const status = await runCli(['status', '--config', configFile], registry);
    expect(status.out).toContain(
      `bayes  spam ${now.spam}/200, ham ${now.ham}/200: not active yet, needs ${200 - now.spam} more spam and 199 more ham`,
    );
    expect(status.out).toMatch(/learned {2}1 spam, 0 ham learned/);
    expect(status.out).toContain(`trainers  members of group ${group.group}: ${group.member}`);
  }, 130_000);
});
