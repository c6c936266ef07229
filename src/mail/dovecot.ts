/**
 * Dovecot's admin tool: the list of mailbox users (`doveadm user -u '*'`, one name per line).
 * Run with execFile and an argument array, never a shell, so a configured argument can never
 * become a command.
 */
import { execFile } from 'node:child_process';
import { PermanentJobError, ProtocolError } from '../core/errors.js';

/** Options of {@link listDovecotUsers}. */
export interface ListUsersOptions {
  /** Default 2 minutes: iterating an LDAP userdb of thousands of users takes a while. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** sysexits.h codes after which running the same command again cannot help. */
const PERMANENT_EXITS = new Map([
  [64, 'usage error (EX_USAGE)'],
  [77, 'permission denied (EX_NOPERM)'],
  [78, 'configuration error (EX_CONFIG)'],
]);

const MAX_OUTPUT_BYTES = 256 * 1024 * 1024;

/**
 * Runs `argv` (default config: `doveadm user -u '*'`) and returns the user names it prints, one
 * per line, in order, without duplicates. Throws `PermanentJobError` `ENODOVEADM` when the
 * program does not exist or exits with a usage, permission or config error, and `ProtocolError`
 * `EDOVEADM` for other failures (auth process down, timeout): those are retried.
 */
export async function listDovecotUsers(
  argv: readonly string[],
  opts: ListUsersOptions = {},
): Promise<string[]> {
  const [command, ...args] = argv;
  if (!command) throw new PermanentJobError('the user-listing command is empty', 'ENODOVEADM');
  const what = argv.join(' ');
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      command,
      args,
      {
        timeout: opts.timeoutMs ?? 120_000,
        maxBuffer: MAX_OUTPUT_BYTES,
        signal: opts.signal,
        encoding: 'utf8',
      },
      (err, out, errOut) => {
        if (!err) return resolve(out);
        const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean };
        if (opts.signal?.aborted) return reject(opts.signal.reason);
        if (e.code === 'ENOENT' || e.code === 'EACCES') {
          return reject(new PermanentJobError(`cannot run "${command}": ${e.code}`, 'ENODOVEADM'));
        }
        const said = errOut.trim().split('\n').slice(-3).join(' | ').slice(0, 300);
        if (typeof e.code === 'number' && PERMANENT_EXITS.has(e.code)) {
          const why = PERMANENT_EXITS.get(e.code)!;
          return reject(new PermanentJobError(`"${what}" failed: ${why}: ${said}`, 'ENODOVEADM'));
        }
        const how = e.killed ? 'timed out' : `exited with ${String(e.code ?? e.message)}`;
        reject(new ProtocolError(`"${what}" ${how}: ${said}`, 'EDOVEADM'));
      },
    );
  });
  const users = stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  return [...new Set(users)];
}
