/**
 * Sends alert mails through the local Postfix, as `alerts.via` says: the route, the sender,
 * and the one function both the job and `mailjobs alerts test` use.
 */
import { hostname } from 'node:os';
import path from 'node:path';
import type { Config } from '../../config/schema.js';
import { submitMessage, type SubmitRoute } from '../../mail/submit.js';
import { composeMail } from './message.js';

/** Where alert mails go, from the config. */
export function alertRoute(config: Config): SubmitRoute {
  const a = config.alerts;
  const timeoutMs = a.smtp.timeoutSeconds * 1000;
  return a.via === 'smtp'
    ? { via: 'smtp', host: a.smtp.host, port: a.smtp.port, timeoutMs }
    : {
        via: 'sendmail',
        path: a.sendmailPath ?? path.join(config.postfix.commandDirectory, 'sendmail'),
        configDir: config.postfix.configDir,
        timeoutMs,
      };
}

/** `smtp 127.0.0.1:25` or `sendmail /usr/sbin/sendmail`: for logs and the CLI. */
export function describeRoute(route: SubmitRoute): string {
  return route.via === 'smtp' ? `smtp ${route.host}:${route.port}` : `sendmail ${route.path}`;
}

/** The name alerts give this host (subject, body). */
export const alertHost = (): string => hostname();

/** The configured sender, else `mailjobs@<host>`. */
export function alertSender(config: Config): string {
  return config.alerts.from ?? `mailjobs@${alertHost()}`;
}

/** Sends one alert mail to `to` (default: `alerts.to`). */
export async function sendAlertMail(
  config: Config,
  mail: { subject: string; lines: string[] },
  to = config.alerts.to,
): Promise<void> {
  const from = alertSender(config);
  const message = composeMail({ from, to, ...mail });
  await submitMessage(alertRoute(config), { from, to, message });
}
