/**
 * The one pino logger. JSON on stdout; pretty when stdout is a terminal (or MAILJOBS_LOG_PRETTY=1).
 * Secrets are redacted by path wherever they may appear in a logged object.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'secret',
  '*.secret',
  'pass',
  '*.pass',
  'auth.pass',
  '*.auth.pass',
  'headers.Password',
  'headers.password',
];

function wantPretty(): boolean {
  if (process.env.MAILJOBS_LOG_PRETTY !== undefined) return process.env.MAILJOBS_LOG_PRETTY === '1';
  return process.stdout.isTTY === true;
}

/** Creates the process logger; `level` defaults to `MAILJOBS_LOG_LEVEL` or `info`. */
export function createLogger(level = process.env.MAILJOBS_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(wantPretty()
      ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:standard' } } }
      : {}),
  });
}

/** The shared process-wide logger. */
export const logger: Logger = createLogger();
