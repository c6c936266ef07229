/**
 * getmail's push watcher, the background task of every worker process (`mailjobs start`,
 * `mailjobs worker`): every third of a lease period it claims or renews the lease of each
 * account that should be watched (an enabled IMAP connector without `push: false`), runs an
 * {@link AccountWatch} for each lease it holds and stops those it lost. Leases make each
 * account watched by one process of all that share the Redis; a process that dies leaves its
 * accounts to the others within one lease period. A watch whose lease could not be renewed
 * for a whole period (Redis away) stops too, so two processes never watch an account for long.
 * Shutdown stops every watch (LOGOUT) and gives the leases back.
 */
import { Queue } from 'bullmq';
import { enqueueJob } from '../../../client/enqueue.js';
import type { ConnectorConfig } from '../../../config/schema.js';
import { jobHostSessions } from '../../../core/host-sessions.js';
import { queuePrefix } from '../../../core/redis.js';
import type { BackgroundContext, BackgroundTask } from '../../types.js';
import { getmailContract } from '../schema.js';
import { AccountWatch } from './account-watch.js';
import { leaseHolderId, PushLeases } from './lease.js';
import { pushOffReason, PushStateStore } from './state.js';
import { FetchTrigger } from './trigger.js';

interface Held {
  watch: AccountWatch;
  /** What the watch connected with: a change (SIGHUP) restarts it. */
  fingerprint: string;
  renewedAt: number;
}

function fingerprint(c: ConnectorConfig): string {
  const { host, port, security, username, folders, verifyCertificate, login } = c;
  return JSON.stringify({ host, port, security, username, folders, verifyCertificate, login: login.kind });
}

export function watchPush(ctx: BackgroundContext): BackgroundTask {
  const holder = leaseHolderId();
  const states = new PushStateStore(ctx.redis, ctx.key);
  const held = new Map<string, Held>();
  let queue: Queue | undefined;
  let closed = false;
  let running: Promise<void> | undefined;

  const getmailQueue = (): Queue => {
    if (!queue) {
      queue = new Queue(getmailContract.name, {
        connection: ctx.redis,
        prefix: queuePrefix(ctx.config().redis.prefix),
      });
      // Without a listener BullMQ prints every connection error of a Redis that is away.
      queue.on('error', () => undefined);
    }
    return queue;
  };

  const start = (c: ConnectorConfig): Held => {
    const log = ctx.log.child({ account: c.id });
    const config = ctx.config();
    const trigger = new FetchTrigger(
      () =>
        enqueueJob(
          getmailQueue(),
          getmailContract,
          { account: c.id },
          {
            redis: ctx.redis,
            prefix: config.redis.prefix,
            config: ctx.config(),
          },
        ),
      config.getmail.push.debounceMilliseconds,
      log,
    );
    const watch = new AccountWatch(c.id, {
      ctx,
      connector: () => ctx.config().connectors.find((x) => x.id === c.id),
      hostSessions: () => jobHostSessions({ ...ctx, config: ctx.config() }),
      states,
      trigger,
      holder,
    });
    return { watch, fingerprint: fingerprint(c), renewedAt: Date.now() };
  };

  const stop = async (account: string, leases?: PushLeases): Promise<void> => {
    const h = held.get(account);
    held.delete(account);
    await h?.watch.stop();
    await leases?.release(account).catch(() => undefined);
  };

  const round = async (): Promise<void> => {
    const config = ctx.config();
    const leaseMs = config.getmail.push.leaseSeconds * 1000;
    const leases = new PushLeases(ctx.redis, ctx.key, holder, leaseMs);
    const wanted = config.connectors.filter((c) => !pushOffReason(c));
    const ids = new Set(wanted.map((c) => c.id));
    await Promise.all([...held.keys()].filter((a) => !ids.has(a)).map((a) => stop(a, leases)));
    await Promise.all(
      wanted.map(async (c) => {
        const h = held.get(c.id);
        let mine: boolean;
        try {
          mine = await leases.claim(c.id);
        } catch {
          // Redis away: keep watching until the lease would have ended, then leave it to whoever gets it.
          if (h && Date.now() - h.renewedAt > leaseMs) await stop(c.id);
          return;
        }
        if (closed) return;
        if (!mine) {
          if (h) await stop(c.id);
          return;
        }
        if (h && h.fingerprint !== fingerprint(c)) await stop(c.id);
        const current = held.get(c.id);
        if (!current) {
          held.set(c.id, start(c));
          return;
        }
        current.renewedAt = Date.now();
        await current.watch.refresh().catch(() => undefined);
      }),
    );
    await states.prune(new Set(config.connectors.map((c) => c.id))).catch(() => undefined);
  };

  const tick = (): void => {
    if (closed || running) return;
    running = round()
      .catch((err: unknown) => ctx.log.warn({ err: (err as Error).message }, 'push: lease round failed'))
      .finally(() => {
        running = undefined;
      });
  };

  tick();
  let timer: NodeJS.Timeout;
  const schedule = (): void => {
    timer = setTimeout(
      () => {
        tick();
        schedule();
      },
      (ctx.config().getmail.push.leaseSeconds * 1000) / 3,
    );
    timer.unref();
  };
  schedule();

  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      await running;
      const leases = new PushLeases(ctx.redis, ctx.key, holder, 1000);
      await Promise.allSettled([...held.keys()].map((a) => stop(a, leases)));
      await queue?.close().catch(() => undefined);
    },
  };
}
