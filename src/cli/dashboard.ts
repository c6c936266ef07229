/**
 * `mailjobs dashboard`: the web dashboard alone (SIGHUP reloads the config, so its users);
 * `mailjobs dashboard add-user NAME [--role admin|viewer]`: writes a password hash into the
 * config file.
 */
import { loadConfig } from '../config/load.js';
import { startDashboard } from '../dashboard/server.js';
import { announceRedis, openRuntime } from '../runtime.js';
import { addUserCommand } from './dashboard-user.js';
import type { CliArgs, CliDeps } from './io.js';
import { untilStopSignal } from './serve.js';

export async function dashboardCommand(args: CliArgs, deps: CliDeps): Promise<number> {
  if (args.positionals[1] === 'add-user') return addUserCommand(args, deps);
  const rt = await openRuntime({
    configFlag: args.config,
    jobs: deps.jobs,
    log: deps.log,
    startPrivateRedis: true,
  });
  try {
    await announceRedis(rt);
    const server = await startDashboard(rt);
    const sig = await untilStopSignal(() => {
      try {
        rt.config = loadConfig(rt.configFile);
        deps.log.info(
          { users: rt.config.dashboard.users.length },
          'config reloaded: dashboard users updated',
        );
      } catch (err) {
        deps.log.error({ err: (err as Error).message }, 'config reload failed; keeping the running config');
      }
    });
    deps.log.info({ signal: sig }, 'dashboard stopping');
    await server.close();
    return 0;
  } finally {
    await rt.close();
  }
}
