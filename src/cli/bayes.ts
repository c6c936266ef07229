/**
 * `mailjobs bayes bootstrap [--users a,b] [--max N] [--dry-run]`: queues a bayes-bootstrap job,
 * prints its progress on stderr while it runs and its counts (spam and ham apart, one line per
 * user) on stdout. Exit 0 done, 1 failed (none of the users may train, Rspamd away...), 2 a bad
 * option, 3 Redis unreachable, 75 a bootstrap of other options is running.
 */
import { InvalidPayloadError } from '../core/errors.js';
import type { BayesBootstrapResult } from '../jobs/bayes-bootstrap/processor.js';
import { openRuntime } from '../runtime.js';
import { busyHolder, parsePayload } from '../worker/execute.js';
import { type CliArgs, type CliDeps, EXIT_FAILED, UsageError } from './io.js';
import { busy, waitForJob } from './jobs.js';

/** The payload the options ask for; a bad option is a usage error naming it. */
function payloadOf(args: CliArgs): Record<string, unknown> {
  if (args.positionals.length > 2) throw new UsageError(`unexpected argument "${args.positionals[2]}"`);
  const payload: Record<string, unknown> = { dryRun: args.dryRun };
  if (args.users !== undefined) {
    const users = args.users
      .split(',')
      .map((u) => u.trim())
      .filter((u) => u.length > 0);
    if (users.length === 0) throw new UsageError('--users needs one or more user names, comma-separated');
    payload.users = users;
  }
  if (args.max !== undefined) {
    if (!/^\d+$/.test(args.max) || Number(args.max) < 1)
      throw new UsageError('--max must be a whole number of messages, 1 or more');
    payload.max = Number(args.max);
  }
  return payload;
}

function progressLine(p: unknown): string | undefined {
  const v = p as {
    usersDone?: number;
    users?: number;
    spam?: { learned: number; wouldLearn: number };
    ham?: { learned: number; wouldLearn: number };
  };
  if (v.users === undefined || !v.spam || !v.ham) return undefined;
  const n = (c: { learned: number; wouldLearn: number }) => c.learned + c.wouldLearn;
  return `users ${v.usersDone ?? 0}/${v.users}: spam ${n(v.spam)}, ham ${n(v.ham)}`;
}

export async function bootstrapCommand(args: CliArgs, deps: CliDeps): Promise<number> {
  const { bayesBootstrapJob: def, bootstrapText } = await import('../jobs/bayes-bootstrap/index.js');
  let payload;
  try {
    payload = parsePayload(def, payloadOf(args));
  } catch (err) {
    throw err instanceof InvalidPayloadError ? new UsageError(err.message) : err;
  }
  const rt = await openRuntime({
    configFlag: args.config,
    jobs: [def],
    log: deps.log,
    startPrivateRedis: false,
  });
  try {
    const { enqueueJob } = await import('../client/enqueue.js');
    const outcome = await enqueueJob(rt.queues.get(def.name)!, def, payload, {
      redis: rt.redis,
      prefix: rt.config.redis.prefix,
    });
    const finished = await waitForJob(
      rt,
      def.name,
      outcome.jobId,
      args.timeoutSeconds,
      () => {
        if (outcome.status !== 'queued') deps.err(`${outcome.status}: waiting for job ${outcome.jobId}`);
      },
      (p) => {
        const line = progressLine(p);
        if (line) deps.err(line);
      },
    );
    if (!finished) throw new Error(`job ${outcome.jobId} no longer exists`);
    const holder = busyHolder(finished.result);
    if (holder) return busy(deps, def.name, holder);
    const result = finished.result as BayesBootstrapResult;
    if (args.json) {
      deps.out(JSON.stringify(result));
      return 0;
    }
    deps.out(bootstrapText(result));
    for (const u of result.perUser) {
      const c = (k: 'spam' | 'ham') => (result.dryRun ? u[k].wouldLearn : u[k].learned);
      deps.out(
        `  ${u.user}: ${u.status}${u.reason ? ` (${u.reason})` : ''}, spam ${c('spam')}, ham ${c('ham')}`,
      );
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    deps.err(`job failed: ${(err as Error).message}`);
    return EXIT_FAILED;
  } finally {
    await rt.close();
  }
}
