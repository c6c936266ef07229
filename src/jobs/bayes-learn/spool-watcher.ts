/**
 * The worker side of the learn spool: every worker process queues the spool of its own host
 * at start, whenever a file appears (fs.watch), and every `bayesLearn.spoolScanSeconds` (which
 * also catches Redis coming back after an outage, and a spool folder created after start).
 * Hosts without a spool pay one readdir per period. One flush at a time per process; several
 * processes share the spool's lock file.
 */
import { watch, type FSWatcher } from 'node:fs';
import type { BackgroundContext, BackgroundTask } from '../types.js';
import { flushSpool } from './flush.js';
import { LearnedStore } from './learned.js';
import { listSpool } from './spool.js';

export function watchSpool(ctx: BackgroundContext): BackgroundTask {
  let watcher: FSWatcher | undefined;
  let watchedDir: string | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;

  const flushOnce = async (): Promise<void> => {
    const config = ctx.config();
    const dir = config.bayesLearn.spoolDir;
    if ((await listSpool(dir)).length === 0) return;
    const warn = (line: string) => ctx.log.warn({ spool: dir }, line);
    const maxMessageBytes = config.bayesLearn.maxMessageKilobytes * 1024;
    const r = await flushSpool(dir, { redis: ctx.redis, prefix: config.redis.prefix, maxMessageBytes, warn });
    if (r.enqueued > 0) ctx.log.info({ spool: dir, ...r }, 'queued spooled learn requests');
    // The sh spooler cannot check sizes: the ones dropped here count as the job's "too big".
    if (r.tooBig > 0) await new LearnedStore(ctx.redis, ctx.key, 1).count('too-big', r.tooBig);
  };

  /** Runs a flush now, or once more after the one in progress (a file may have come meanwhile). */
  const kick = (): void => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await flushOnce();
        } catch (err) {
          ctx.log.warn({ err: (err as Error).message }, 'cannot queue the learn spool; trying again later');
        }
      } while (again && !closed);
    })().finally(() => {
      running = undefined;
    });
  };

  /** (Re)starts fs.watch on the configured folder; a missing folder is retried every period. */
  const ensureWatch = (): void => {
    const dir = ctx.config().bayesLearn.spoolDir;
    if (closed || (watcher && watchedDir === dir)) return;
    watcher?.close();
    watcher = undefined;
    try {
      watcher = watch(dir, kick);
      watchedDir = dir;
      watcher.on('error', () => {
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      // not there (yet), or not ours to read: the periodic scan covers it
    }
  };

  ensureWatch();
  kick();
  const timer = setInterval(() => {
    ensureWatch();
    kick();
  }, ctx.config().bayesLearn.spoolScanSeconds * 1000);
  timer.unref();

  return {
    async close() {
      closed = true;
      clearInterval(timer);
      watcher?.close();
      await running;
    },
  };
}
