/**
 * Long-running roles: `start` (scheduler + workers + dashboard), `worker`, `scheduler`.
 * SIGHUP reloads the config (dashboard users too) and reconciles schedules; SIGTERM/SIGINT shut down gracefully.
 */
import { loadConfig } from '../config/load.js';
import type { Logger } from '../core/logger.js';
import { desiredSchedules } from '../scheduler/desired.js';
import { jobsOffOnThisHost } from '../jobs/host-commands.js';
import { reconcileSchedules } from '../scheduler/reconcile.js';
import { announceRedis, openRuntime, type Runtime } from '../runtime.js';
import { startWorkers } from '../worker/workers.js';
import { exposedFileWarnings } from '../config/file-modes.js';
import type { CliArgs, CliDeps } from './io.js';

export type Role = 'start' | 'worker' | 'scheduler';

/**
 * Reconciles the schedules of `rt.config` into BullMQ; a job whose program this host lacks keeps
 * no schedule, and one info line says so.
 */
export async function reconcile(rt: Runtime) {
  const desired = desiredSchedules(rt.jobs, rt.config);
  for (const off of jobsOffOnThisHost(rt.jobs, rt.config)) {
    desired.set(off.job, []);
    rt.log.info({ job: off.job, command: off.missing.command, setting: off.missing.setting }, off.message);
  }
  return reconcileSchedules(desired, { ...rt, prefix: rt.config.redis.prefix });
}

/** Re-reads the config file into `rt` (SIGHUP); a bad file is logged and the running config kept. */
export function reloadConfig(rt: Runtime, log: Logger): boolean {
  try {
    rt.config = loadConfig(rt.configFile);
    return true;
  } catch (err) {
    log.error({ err: (err as Error).message }, 'config reload failed; keeping the running config');
    return false;
  }
}

/** Resolves when the process gets SIGTERM or SIGINT; runs `onHup` on SIGHUP. */
export function untilStopSignal(onHup?: () => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (sig: NodeJS.Signals) => {
      process.off('SIGTERM', stop).off('SIGINT', stop);
      if (onHup) process.off('SIGHUP', onHup);
      resolve(sig);
    };
    process.on('SIGTERM', stop).on('SIGINT', stop);
    if (onHup) process.on('SIGHUP', onHup);
  });
}

export async function serve(role: Role, args: CliArgs, deps: CliDeps): Promise<number> {
  const rt = await openRuntime({
    configFlag: args.config,
    jobs: deps.jobs,
    log: deps.log,
    startPrivateRedis: true,
  });
  await announceRedis(rt);
  for (const w of exposedFileWarnings(rt.configFile, rt.config)) rt.log.warn(w);
  const withScheduler = role !== 'worker';
  const withWorkers = role !== 'scheduler';
  if (withScheduler) await reconcile(rt);
  const workers = withWorkers
    ? startWorkers({
        jobs: rt.jobs,
        config: () => rt.config,
        redisSettings: rt.redisSettings,
        redis: rt.redis,
        log: rt.log,
        outage: rt.outage,
      })
    : undefined;
  const dashboard =
    role === 'start' && rt.config.dashboard.enabled
      ? await (await import('../dashboard/server.js')).startDashboard(rt)
      : undefined;
  if (role === 'start' && !dashboard) deps.log.info('dashboard disabled (dashboard.enabled: false)');
  deps.log.info({ role }, 'mailjobs running');

  // Every role reloads on SIGHUP (workers read the config for each job); the scheduler also reconciles.
  const onHup = () => {
    if (!reloadConfig(rt, deps.log)) return;
    if (withScheduler) reconcile(rt).catch((err) => deps.log.error({ err }, 'reconcile after SIGHUP failed'));
  };
  const sig = await untilStopSignal(onHup);
  deps.log.info({ signal: sig }, 'shutting down: active jobs stop at a safe point and return to the queue');
  await dashboard?.close().catch((err) => deps.log.error({ err }, 'dashboard close failed'));
  const closed = (await workers?.close()) ?? true;
  await rt.close();
  deps.log.info('stopped');
  if (!closed) {
    // A BullMQ Worker that could not finish closing without Redis keeps its timers: they must not
    // keep the process (its exit code is already set by then).
    setTimeout(() => process.exit(), 1000).unref();
  }
  return 0;
}
