/**
 * System group lookups through NSS (`getent group NAME`), so groups from /etc/group, LDAP or
 * sssd all work. execFile with an argument array: a group name never reaches a shell.
 */
import { execFile } from 'node:child_process';
import { PermanentJobError, ProtocolError } from './errors.js';

/** getent(1): "One or more supplied key could not be found in the database." */
const GETENT_NOT_FOUND = 2;

/**
 * The members listed for group `name` (its supplementary members: users whose primary group it
 * is are not listed by NSS), or `undefined` when no such group exists. Throws
 * `PermanentJobError` `ENOGETENT` when getent cannot run, `ProtocolError` `EGETENT` otherwise.
 */
export async function groupMembers(name: string, timeoutMs = 10_000): Promise<string[] | undefined> {
  return new Promise((resolve, reject) => {
    execFile('getent', ['group', name], { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout) => {
      if (!err) {
        // name:password:gid:member,member,...
        const members = stdout.trim().split('\n')[0]?.split(':')[3] ?? '';
        return resolve(members.split(',').filter((m) => m.length > 0));
      }
      // execFile's error: `code` is the exit status, or the spawn error's name (ENOENT).
      const code = (err as { code?: unknown }).code;
      if (code === GETENT_NOT_FOUND) return resolve(undefined);
      if (code === 'ENOENT') {
        return reject(
          new PermanentJobError(
            'getent is not installed: list the trainers in the config instead',
            'ENOGETENT',
          ),
        );
      }
      reject(new ProtocolError(`getent group ${name} failed: ${String(code ?? err.message)}`, 'EGETENT'));
    });
  });
}
