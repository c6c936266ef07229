/**
 * `mailjobs quarantine list | release ID | delete ID`: the quarantine as the job indexed it, and
 * an admin's release or delete, done at once (src/jobs/quarantine/release.ts). Exit 0 done, 1
 * refused or failed (one line with the reason), 2 a bad command line, 3 Redis unreachable, 75
 * the message is being released or deleted by someone else.
 */
import { userInfo } from 'node:os';
import { PermanentJobError, ProtocolError } from '../core/errors.js';
import { QUARANTINE_ID, type QuarantineItem, QuarantineStore } from '../jobs/quarantine/store.js';
import { openRuntime, type Runtime } from '../runtime.js';
import { type CliArgs, type CliDeps, EXIT_BUSY, EXIT_FAILED, UsageError } from './io.js';

/** Opens Redis (exit 3 when unreachable), runs `work`, closes. */
async function withRuntime<T>(args: CliArgs, deps: CliDeps, work: (rt: Runtime) => Promise<T>): Promise<T> {
  const rt = await openRuntime({
    configFlag: args.config,
    jobs: [],
    log: deps.log,
    startPrivateRedis: false,
  });
  try {
    return await work(rt);
  } finally {
    await rt.close();
  }
}

/** The one ID argument, checked. */
function idArgument(args: CliArgs): string {
  const [, , id, extra] = args.positionals;
  if (id === undefined) throw new UsageError('give the quarantine id (see mailjobs quarantine list)');
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  if (!QUARANTINE_ID.test(id))
    throw new UsageError(
      `"${id}" is not a quarantine id (<uidvalidity>-<uid>, see mailjobs quarantine list)`,
    );
  return id;
}

/** Who acts from the command line: the login behind sudo, else this process's user. */
const cliUser = (): string => `cli:${process.env.SUDO_USER || userInfo().username}`;

const oneLine = (t: string, max: number): string => {
  // eslint-disable-next-line no-control-regex
  const c = t.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return c.length > max ? `${c.slice(0, max - 1)}…` : c;
};

function itemLine(i: QuarantineItem): string {
  const from = i.from === undefined ? '?' : i.from === '' ? '<>' : i.from;
  const score = i.score === undefined ? '?' : i.score.toFixed(2);
  const to = i.to.length ? i.to.join(',') : '?';
  const mark = i.notReleasable ? '  [not releasable]' : '';
  return `${i.id}  ${i.savedAt.replace(/:\d\d\.\d+Z$/, 'Z')}  ${score}  ${oneLine(from, 60)} -> ${oneLine(to, 80)}  ${oneLine(i.subject, 80)}${mark}`;
}

export async function listCommand(args: CliArgs, deps: CliDeps): Promise<number> {
  if (args.positionals.length > 2) throw new UsageError(`unexpected argument "${args.positionals[2]}"`);
  return withRuntime(args, deps, async (rt) => {
    const list = await new QuarantineStore(rt.redis, rt.key).list({
      ...(args.search ? { search: args.search } : {}),
    });
    if (args.json) {
      deps.out(JSON.stringify(list));
      return 0;
    }
    deps.out(
      `${list.total} quarantined message(s)${args.search ? ` matching "${args.search}"` : ''}${rt.config.quarantine.enabled ? '' : ' (quarantine.enabled is false)'}`,
    );
    for (const item of list.items) deps.out(itemLine(item));
    return 0;
  });
}

/** A refusal or failure as one line; the exit code. */
function failed(deps: CliDeps, what: string, err: unknown): number {
  if (err instanceof ProtocolError && err.code === 'EBUSY') {
    deps.err(`busy: ${err.message}; try again later`);
    return EXIT_BUSY;
  }
  if (err instanceof PermanentJobError || err instanceof ProtocolError) {
    deps.err(`${what} failed: ${err.message}`);
    return EXIT_FAILED;
  }
  throw err;
}

export async function releaseCommand(args: CliArgs, deps: CliDeps): Promise<number> {
  const id = idArgument(args);
  const { releaseMessage } = await import('../jobs/quarantine/release.js');
  return withRuntime(args, deps, async (rt) => {
    try {
      const r = await releaseMessage(id, { by: cliUser(), learnHam: args.learnHam }, rt);
      const to = [...r.alreadyDelivered, ...r.delivered];
      deps.out(
        `released ${id} to ${to.join(', ')}${r.alreadyDelivered.length ? ` (${r.alreadyDelivered.length} had it from an interrupted release)` : ''}${r.learnHam ? `; learn as ham: ${r.learnHam}` : ''}`,
      );
      return 0;
    } catch (err) {
      return failed(deps, `release of ${id}`, err);
    }
  });
}

export async function deleteCommand(args: CliArgs, deps: CliDeps): Promise<number> {
  const id = idArgument(args);
  const { deleteMessage } = await import('../jobs/quarantine/release.js');
  return withRuntime(args, deps, async (rt) => {
    try {
      await deleteMessage(id, { by: cliUser() }, rt);
      deps.out(`deleted ${id}`);
      return 0;
    } catch (err) {
      return failed(deps, `delete of ${id}`, err);
    }
  });
}
