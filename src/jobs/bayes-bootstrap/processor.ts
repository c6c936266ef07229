/**
 * bayes-bootstrap: Bayes classifies nothing until `min_learns` spam and ham are learned, which
 * Junk moves alone take weeks to reach on a new server. This learns what the trainers' mailboxes
 * already say, user after user, through the dedup of the Junk moves (learn-once.ts):
 * - spam: every message in the user's Junk (the `\Junk` special-use folders, or
 *   `spamExpunge.junkFolder`), newest first;
 * - ham: INBOX messages that are \Seen, saved at least `hamMinAgeDays` ago, and carry no `$Junk`
 *   or `Junk` keyword. "Read and never moved to Junk" can only be approximated: IMAP keeps no
 *   history of moves. A message a user moved to Junk is no longer in INBOX; one moved back out
 *   is in our record as ham (or, as the later move, wins over this run); a message a client
 *   marked as junk without moving it carries the keyword. What stayed read in INBOX that long
 *   the user kept: ham.
 * Messages over `bayesLearn.maxMessageKilobytes` are not read. Each class stops at `max` new
 * learns. A user whose login is refused is reported and skipped; Dovecot or Rspamd failing
 * fails the run (BullMQ retries; what was learned is skipped then).
 */
import { AuthenticationError, PermanentJobError, ProtocolError } from '../../core/errors.js';
import {
  connectImap,
  findJunkFolders,
  masterUserLogin,
  readMessages,
  searchFolder,
} from '../../mail/imap.js';
import type { LearnClass } from '../bayes-learn/learned.js';
import { learnOnce, learnedStore, settledBy } from '../bayes-learn/learn-once.js';
import { messageDigest } from '../bayes-learn/schema.js';
import type { JobContext } from '../types.js';
import type { BayesBootstrapPayload } from './schema.js';
import { trainingSources } from './sources.js';
import { BootstrapTally, type ClassCounts } from './tally.js';
import { bootstrapUsers } from './users.js';

/** Messages read per FETCH: bounds memory at this many times `maxMessageKilobytes`. */
const READ_BATCH = 20;

export interface BootstrapUserOutcome {
  user: string;
  status: 'done' | 'not-a-trainer' | 'login-refused';
  spam: ClassCounts;
  ham: ClassCounts;
  reason?: string;
}

export interface BayesBootstrapResult extends Record<string, unknown> {
  dryRun: boolean;
  users: number;
  spamLearned: number;
  hamLearned: number;
  /** Dry run: what a real run would send to Rspamd. */
  spamWouldLearn: number;
  hamWouldLearn: number;
  alreadyLearned: number;
  superseded: number;
  declined: number;
  notTrainers: number;
  loginRefused: number;
  durationMs: number;
  spam: ClassCounts;
  ham: ClassCounts;
  perUser: BootstrapUserOutcome[];
}

/** Learns (or, dry, weighs) one batch of messages as `cls`; stops when the class is full. */
async function learnBatch(
  cls: LearnClass,
  messages: { savedAt: Date; source: Buffer }[],
  tally: BootstrapTally,
  dryRun: boolean,
  ctx: JobContext,
): Promise<void> {
  const store = learnedStore(ctx);
  for (const m of messages) {
    ctx.signal.throwIfAborted();
    if (tally.room(cls) === 0) return;
    // When it was filed where it is: a Junk move recorded later wins over what this run sees.
    const req = {
      class: cls,
      message: m.source,
      digest: messageDigest(m.source),
      movedAt: Math.max(1, m.savedAt.getTime()),
    };
    if (dryRun) {
      tally.add(cls, settledBy(await store.get(req.digest), req)?.outcome ?? 'would-learn');
      continue;
    }
    try {
      const learned = await learnOnce(req, ctx);
      tally.add(cls, learned.outcome);
      if (learned.outcome === 'too-few-words')
        ctx.log.info(
          { class: cls, digest: req.digest.slice(0, 16), reason: learned.reason },
          'bayes-bootstrap: Rspamd declined to learn it',
        );
    } catch (err) {
      // A Junk move of this very message is being learned right now: that later learn stands.
      if (err instanceof ProtocolError && err.code === 'EBUSY') tally.add(cls, 'superseded');
      else throw err;
    }
  }
}

/** Reads one user's Junk and old read INBOX, learning as it goes. */
async function bootstrapUser(
  user: string,
  payload: BayesBootstrapPayload,
  tally: BootstrapTally,
  ctx: JobContext,
  masterPassword: string,
): Promise<BootstrapUserOutcome['status']> {
  const { dovecot, bayesLearn, spamExpunge } = ctx.config;
  let client;
  try {
    client = await connectImap({
      ...dovecot.imap,
      user: masterUserLogin(user, dovecot.masterUser),
      password: masterPassword,
      signal: ctx.signal,
    });
  } catch (err) {
    if (err instanceof AuthenticationError) return 'login-refused';
    throw err;
  }
  try {
    const junk = await findJunkFolders(client, spamExpunge.junkFolder);
    const sources = trainingSources(junk, {
      hamMinAgeDays: payload.hamMinAgeDays,
      maxMessageKilobytes: bayesLearn.maxMessageKilobytes,
      now: Date.now(),
    });
    for (const { class: cls, folder, query } of sources) {
      if (tally.room(cls) === 0) continue;
      const uids = await searchFolder(client, folder, query);
      for (let i = 0; i < uids.length && tally.room(cls) > 0; i += READ_BATCH) {
        const batch = await readMessages(client, uids.slice(i, i + READ_BATCH));
        await learnBatch(cls, batch, tally, payload.dryRun, ctx);
      }
    }
    return 'done';
  } finally {
    await client.logout().catch(() => client.close());
  }
}

export async function bayesBootstrap(
  payload: BayesBootstrapPayload,
  ctx: JobContext,
): Promise<BayesBootstrapResult> {
  const started = Date.now();
  const secret = ctx.config.dovecot.masterPasswordFile;
  if (!secret) {
    throw new PermanentJobError(
      'bayes-bootstrap reads mailboxes as Dovecot master user: set dovecot.masterPasswordFile in the config',
      'ENOMASTER',
    );
  }
  const { trainers, refused } = await bootstrapUsers(payload.users, ctx);
  const tally = new BootstrapTally(payload.max);
  const perUser: BootstrapUserOutcome[] = refused.map((r) => ({
    user: r.user,
    status: 'not-a-trainer',
    reason: r.reason,
    ...tally.nextUser(),
  }));
  for (const r of refused)
    ctx.log.warn({ user: r.user, reason: r.reason }, 'bayes-bootstrap: not a trainer, skipped');
  const progress = () =>
    ctx
      .progress({
        usersDone: perUser.length - refused.length,
        users: trainers.length,
        spam: tally.total.spam,
        ham: tally.total.ham,
      })
      .catch(() => undefined); // for the dashboard only: a Redis hiccup must not fail the run
  for (const user of trainers) {
    if (tally.room('spam') === 0 && tally.room('ham') === 0) break;
    const status = await bootstrapUser(user, payload, tally, ctx, secret.reveal());
    const counts = tally.nextUser();
    perUser.push({ user, status, ...counts });
    ctx.log.info(
      { user, status, spam: counts.spam, ham: counts.ham, dryRun: payload.dryRun },
      'bayes-bootstrap: user done',
    );
    await progress();
  }
  const tried = perUser.filter((u) => u.status !== 'not-a-trainer');
  if (tried.length > 0 && tried.every((u) => u.status === 'login-refused')) {
    throw new AuthenticationError(
      `every master-user login was refused (${tried.length} user(s), e.g. ${tried[0]!.user}): check dovecot.masterUser and dovecot.masterPasswordFile, or whether the user exists`,
    );
  }
  const { spam, ham } = tally.total;
  const both = (k: keyof ClassCounts) => spam[k] + ham[k];
  const count = (s: BootstrapUserOutcome['status']) => perUser.filter((u) => u.status === s).length;
  return {
    dryRun: payload.dryRun,
    users: perUser.length,
    spamLearned: spam.learned,
    hamLearned: ham.learned,
    spamWouldLearn: spam.wouldLearn,
    hamWouldLearn: ham.wouldLearn,
    alreadyLearned: both('alreadyLearned'),
    superseded: both('superseded'),
    declined: both('declined'),
    notTrainers: count('not-a-trainer'),
    loginRefused: count('login-refused'),
    durationMs: Date.now() - started,
    spam,
    ham,
    perUser,
  };
}
