/**
 * bayes-bootstrap against a real Dovecot and a real Rspamd whose Bayes lives in its own Redis,
 * run the way an admin runs it (`mailjobs bayes bootstrap`, a worker consuming the queue): a
 * trainer with 210 messages in Junk and 210 old read INBOX messages takes Rspamd's Bayes from
 * nothing to 200/200 (Rspamd's own counters are the proof); unread, recent and junk-flagged
 * INBOX messages are not ham; a second run learns nothing (the dedup); a dry run learns nothing
 * and counts; `--max` stops each class; a non-trainer's mailbox is never read. The Filter
 * page's "Bootstrap Bayes" queues the same job and shows its result.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { connectRedis, type RedisClient } from '../../src/core/redis.js';
import { bayesBootstrapJob } from '../../src/jobs/bayes-bootstrap/index.js';
import type { BayesBootstrapResult } from '../../src/jobs/bayes-bootstrap/processor.js';
import { filterPage, type filterOverview } from '../../src/dashboard/pages/filter.js';
import { registry } from '../../src/jobs/registry.js';
import { openRuntime } from '../../src/runtime.js';
import { stat as rspamdStat } from '../../src/mail/rspamd.js';
import type { WorkerSet } from '../../src/worker/workers.js';
import { startDovecot, type DovecotFixture } from '../fixtures/dovecot.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { startRspamd, type RspamdFixture } from '../fixtures/rspamd.js';
import { makeTempDir, removeTempDir } from '../fixtures/service.js';
import { masterSession } from '../helpers/master-session.js';
import { freshPrefix, runCli, silentLog, startTestWorkers } from '../helpers/runtime.js';
import { call, routeFor } from '../dashboard/routes.js';
import { textMessage } from './mailboxes.js';

const DAY_MS = 86_400_000;
const TRAINER = 'tina';
const OTHER = 'nora';
/** A trainer in the config without a mailbox: Dovecot refuses the login. */
const GHOST = 'ghost';
const SPAM = 210;
const HAM = 210;

let queues: RedisFixture;
let bayesRedis: RedisFixture;
let rspamd: RspamdFixture;
let fx: DovecotFixture;
let dir: string;
let state: RedisClient;
let worker: WorkerSet;
let configFile: string;
/** What the real run learned, spam and ham. */
let learned = { spam: 0, ham: 0 };

const SPAM_WORDS =
  'price offer money account bank transfer urgent winner lottery claim prize discount pharmacy watches replica casino bonus investment crypto profit guaranteed pills cheap deal limited exclusive'.split(
    ' ',
  );
const HAM_WORDS =
  'meeting agenda project report review schedule minutes team budget draft lunch thanks weekend family garden train ticket library chapter invoice quarter roadmap release notes'.split(
    ' ',
  );

/** A message whose words differ from every other's (Rspamd learns a message once), from `vocabulary`. */
function variedMessage(id: string, vocabulary: string[], n: number): Buffer {
  let x = (n + 1) * 2_654_435_761;
  const next = () => ((x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0), x);
  const words = Array.from(
    { length: 80 },
    (_, i) => `${vocabulary[next() % vocabulary.length]}${i % 8 === 0 ? `${id}x${next() % 997}` : ''}`,
  );
  return textMessage(id, `${vocabulary[n % vocabulary.length]} ${id}`, words.join(' '));
}

/** Appends many messages in one session: `flags` and a saved date `daysAgo`. */
async function fill(
  user: string,
  folder: string,
  items: { msg: Buffer; flags: string[]; daysAgo: number }[],
): Promise<void> {
  const c = await masterSession(fx, user);
  try {
    for (const m of items) await c.append(folder, m.msg, m.flags, new Date(Date.now() - m.daysAgo * DAY_MS));
  } finally {
    await c.logout();
  }
}

beforeAll(async () => {
  [queues, bayesRedis, fx] = await Promise.all([startRedis(), startRedis(), startDovecot()]);
  rspamd = await startRspamd({ redisUrl: bayesRedis.url });
  dir = await makeTempDir('bootstrap');
  configFile = path.join(dir, 'mailjobs.yaml');
  await writeFile(
    configFile,
    [
      `redis: { url: "${queues.url}", prefix: ${freshPrefix()} }`,
      'workers: { lockDurationSeconds: 5 }',
      `dovecot: { imap: { host: 127.0.0.1, port: ${fx.imapPort}, security: none }, masterPasswordFile: ${fx.masterPasswordFile} }`,
      `rspamd: { url: "${rspamd.normalUrl}", controllerUrl: "${rspamd.controllerUrl}", passwordFile: ${rspamd.passwordFile}, timeoutSeconds: 10 }`,
      `bayesLearn: { trainers: [${TRAINER}, ${GHOST}] }`,
      '',
    ].join('\n'),
  );
  for (const u of [TRAINER, OTHER]) await fx.addUser(u);
  const spam = Array.from({ length: SPAM }, (_, i) => ({
    msg: variedMessage(`s${i}`, SPAM_WORDS, i),
    flags: [],
    daysAgo: 3,
  }));
  const ham = Array.from({ length: HAM }, (_, i) => ({
    msg: variedMessage(`h${i}`, HAM_WORDS, i),
    flags: ['\\Seen'],
    daysAgo: 20 + (i % 30),
  }));
  // Not ham: unread, read but recent, marked as junk by a client without a move.
  const notHam = [
    { msg: variedMessage('unread', HAM_WORDS, 1001), flags: [], daysAgo: 40 },
    { msg: variedMessage('recent', HAM_WORDS, 1002), flags: ['\\Seen'], daysAgo: 2 },
    { msg: variedMessage('flagged', HAM_WORDS, 1003), flags: ['\\Seen', '$Junk'], daysAgo: 40 },
    { msg: variedMessage('flagged2', HAM_WORDS, 1004), flags: ['\\Seen', 'Junk'], daysAgo: 40 },
  ];
  // One session per user at a time: two first logins of one user at once both create its
  // special-use folders, and Dovecot 2.3 can then take its index locks in opposite orders and
  // drop one session (fcntl "Resource deadlock avoided").
  const fillTrainer = async () => {
    await fill(TRAINER, 'Junk', spam);
    await fill(TRAINER, 'INBOX', [...ham, ...notHam]);
  };
  await Promise.all([
    fillTrainer(),
    fill(OTHER, 'Junk', [{ msg: variedMessage('o1', SPAM_WORDS, 2001), flags: [], daysAgo: 3 }]),
  ]);
  state = connectRedis(queues.url);
  const config = loadConfig(configFile, {});
  worker = startTestWorkers({ config, redisSettings: { url: queues.url }, redis: state }, [
    bayesBootstrapJob,
  ]);
}, 180_000);

afterAll(async () => {
  const results = await Promise.allSettled([worker?.close(), fx?.stop(), rspamd?.stop()]);
  state?.disconnect();
  results.push(
    ...(await Promise.allSettled([queues?.stop(), bayesRedis?.stop(), dir ? removeTempDir(dir) : undefined])),
  );
  const failed = results.find((x) => x.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
});

const controller = () => ({ controllerUrl: rspamd.controllerUrl, password: rspamd.password });

async function bootstrap(...options: string[]) {
  const r = await runCli(['bayes', 'bootstrap', ...options, '--config', configFile], registry);
  const json =
    options.includes('--json') && r.code === 0 ? (JSON.parse(r.out) as BayesBootstrapResult) : undefined;
  return { ...r, result: json };
}

/** The user's INBOX flags, to show the bootstrap changed none (read-only, BODY.PEEK). */
async function unseenInInbox(user: string): Promise<number> {
  const c = await masterSession(fx, user);
  try {
    await c.mailboxOpen('INBOX', { readOnly: true });
    return ((await c.search({ seen: false }, { uid: true })) as number[]).length;
  } finally {
    await c.logout();
  }
}

describe('mailjobs bayes bootstrap', () => {
  it('refuses bad options (exit 2); fails a run with no trainer among the users, or every login refused (exit 1)', async () => {
    for (const bad of [
      ['--max', '0'],
      ['--max', 'lots'],
      ['--users', ' , '],
      ['--users', 'a*b'],
      ['extra'],
    ]) {
      const r = await bootstrap(...bad);
      expect(r.code, bad.join(' ')).toBe(2);
      expect(r.err.split('\n')[0]).toMatch(/^mailjobs bayes bootstrap: /);
    }
    const r = await bootstrap('--users', OTHER);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`users: none may train Bayes: ${OTHER} (not listed in bayesLearn.trainers)`);
    const ghost = await bootstrap('--users', GHOST);
    expect(ghost.code).toBe(1);
    expect(ghost.err).toContain('every master-user login was refused (1 user(s), e.g. ghost)');
  });

  it('a dry run counts what it would learn, stops each class at --max, and learns nothing', async () => {
    const capped = await bootstrap('--dry-run', '--max', '50', '--json');
    expect(capped.code, capped.err).toBe(0);
    expect(capped.result).toMatchObject({
      dryRun: true,
      spamWouldLearn: 50,
      hamWouldLearn: 50,
      spamLearned: 0,
      hamLearned: 0,
    });

    const all = await bootstrap('--dry-run', '--users', `${GHOST},${TRAINER},${OTHER}`);
    expect(all.code, all.err).toBe(0);
    expect(all.out.split('\n')).toEqual([
      `dry run: would learn ${SPAM} spam, ${HAM} ham; 0 already learned, 0 superseded by a later move, 0 declined by Rspamd; 3 user(s), 1 not trainers, 1 login refused`,
      `  ${OTHER}: not-a-trainer (not listed in bayesLearn.trainers), spam 0, ham 0`,
      `  ${GHOST}: login-refused, spam 0, ham 0`,
      `  ${TRAINER}: done, spam ${SPAM}, ham ${HAM}`,
    ]);
    expect((await rspamdStat(controller())).learnedSinceStart).toBe(0);
  });

  it('learns the Junk as spam and old read INBOX mail as ham: Rspamd reaches 200/200', async () => {
    const r = await bootstrap('--users', `${TRAINER},${OTHER}`, '--json');
    expect(r.code, r.err).toBe(0);
    const got = r.result!;
    expect(got).toMatchObject({ dryRun: false, alreadyLearned: 0, notTrainers: 1 });
    // Once Bayes is active, Rspamd declines a message it already classifies with confidence
    // ("all learn conditions denied learning"): the last few may be declined, never lost.
    expect(got.spamLearned + got.spam.declined).toBe(SPAM);
    expect(got.hamLearned + got.ham.declined).toBe(HAM);
    expect(Math.min(got.spamLearned, got.hamLearned)).toBeGreaterThanOrEqual(200);
    learned = { spam: got.spamLearned, ham: got.hamLearned };
    expect(r.result!.perUser.find((u) => u.user === OTHER)).toMatchObject({
      status: 'not-a-trainer',
      spam: { learned: 0 },
    });
    // Progress was printed while it ran, users and counts.
    expect(r.err).toContain(`users 1/1: spam ${learned.spam}, ham ${learned.ham}`);
    // Every learn reached Rspamd; its statfile counters are re-read from Redis every 30-60 s.
    expect((await rspamdStat(controller())).learnedSinceStart).toBe(learned.spam + learned.ham);
    await expect
      .poll(
        async () => {
          const s = await rspamdStat(controller());
          return { spam: s.spam, ham: s.ham };
        },
        { timeout: 100_000, interval: 2000 },
      )
      .toEqual(learned);
    const stats = await runCli(['run', 'bayes-stats', '{}', '--config', configFile], registry);
    expect(JSON.parse(stats.out)).toMatchObject({ ...learned, minLearns: 200, active: true });
    // Read without touching: the unread message is still unread.
    expect(await unseenInInbox(TRAINER)).toBe(1);
  }, 150_000);

  it('a second run learns nothing: every message is already learned', async () => {
    const r = await bootstrap('--json');
    expect(r.code, r.err).toBe(0);
    const before = (await rspamdStat(controller())).learnedSinceStart;
    expect(r.result).toMatchObject({
      spamLearned: 0,
      hamLearned: 0,
      alreadyLearned: learned.spam + learned.ham,
      users: 2,
      loginRefused: 1,
    });
    const dry = await bootstrap('--dry-run', '--json');
    // What Rspamd declined is not in the record: a dry run cannot tell it would decline it again.
    const declined = { spam: SPAM - learned.spam, ham: HAM - learned.ham };
    expect(dry.result).toMatchObject({
      spamWouldLearn: declined.spam,
      hamWouldLearn: declined.ham,
      alreadyLearned: learned.spam + learned.ham,
    });
    expect((await rspamdStat(controller())).learnedSinceStart).toBe(before);
    const status = await runCli(['status', 'bayes-bootstrap', '--config', configFile], registry);
    expect(status.out).toMatch(/trainers {2}last run ok .*, dry run: would learn/);
    expect(status.out).toContain(
      `dry run: would learn ${declined.spam} spam, ${declined.ham} ham; ${learned.spam + learned.ham} already learned`,
    );
  });

  it("the Filter page's button (admins only) queues the same job and shows its result", async () => {
    const { route } = routeFor(filterPage, 'POST', '/filter/bayes-bootstrap');
    expect(route.role).toBe('admin');
    expect(route.input!.safeParse({ max: 0 }).success).toBe(false);
    const rt = await openRuntime({
      configFlag: configFile,
      jobs: registry,
      log: silentLog,
      startPrivateRedis: false,
    });
    try {
      const queued = await call<{ status: string; jobId: string }>(
        rt,
        filterPage,
        'POST',
        '/filter/bayes-bootstrap',
        { dryRun: true },
      );
      expect(queued.status).toBe('queued');
      const job = await rt.queues.get('bayes-bootstrap')!.getJob(queued.jobId);
      await expect.poll(() => job!.getState(), { timeout: 60_000 }).toBe('completed');
      const o = await call<Awaited<ReturnType<typeof filterOverview>>>(
        rt,
        filterPage,
        'GET',
        '/filter/overview',
      );
      expect(o.bootstrap.current).toBeNull();
      expect(o.bootstrap.lastJob?.jobId).toBe(queued.jobId);
      expect(o.bootstrap.row?.summary).toContain(`${learned.spam + learned.ham} already learned`);
    } finally {
      await rt.close();
    }
  });
});
