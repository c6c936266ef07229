/**
 * `mailjobs dashboard`: the web dashboard alone (SIGHUP reloads the config, so its users).
 * `mailjobs dashboard add-user` is dashboard-user.ts.
 */
import { startDashboard } from '../dashboard/server.js';
import { announceRedis, openRuntime } from '../runtime.js';
import { exposedFileWarnings } from '../config/file-modes.js';
import type { CliArgs, CliDeps } from './io.js';
import { reloadConfig, untilStopSignal } from './serve.js';

export async function dashboardCommand(args: CliArgs, deps: CliDeps): Promise<number> {
  const rt = await openRuntime({
    configFlag: args.config,
    jobs: deps.jobs,
    log: deps.log,
    startPrivateRedis: true,
  });
  try {
    await announceRedis(rt);
    for (const w of exposedFileWarnings(rt.configFile, rt.config)) rt.log.warn(w);
    const server = await startDashboard(rt);
    const sig = await untilStopSignal(() => {
      if (reloadConfig(rt, deps.log))
        deps.log.info(
          { users: rt.config.dashboard.users.length },
          'config reloaded: dashboard users updated',
        );
    });
    deps.log.info({ signal: sig }, 'dashboard stopping');
    await server.close();
    return 0;
  } finally {
    await rt.close();
  }
}
