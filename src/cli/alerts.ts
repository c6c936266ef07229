/**
 * `mailjobs alerts test`: sends one test alert through the configured route, as the alerts job
 * would, and says whether the MTA took it (exit 0) or why not (exit 1). Needs no Redis.
 */
import { loadConfig, configPath } from '../config/load.js';
import { alertHost, alertRoute, describeRoute, sendAlertMail } from '../jobs/alerts/send.js';
import { EXIT_FAILED, type CliArgs, type CliDeps } from './io.js';

export async function alertsCommand(args: CliArgs, deps: CliDeps): Promise<number> {
  const config = loadConfig(configPath(args.config));
  const { to } = config.alerts;
  const route = describeRoute(alertRoute(config));
  const host = alertHost();
  try {
    await sendAlertMail(config, {
      subject: `[mailjobs ${host}] test alert`,
      lines: [
        `This is a test alert from mailjobs on ${host}, sent with \`mailjobs alerts test\`.`,
        'Real alerts come the same way: one mail when a problem starts, one when it clears.',
      ],
    });
  } catch (err) {
    deps.err(`test alert to ${to} not sent (${route}): ${(err as Error).message}`);
    return EXIT_FAILED;
  }
  deps.out(`test alert to ${to} handed to ${route}`);
  return 0;
}
