/**
 * Start-up warnings for files that hold secrets and that every local user can read: the
 * config once it holds dashboard password hashes (passwords themselves live in files of their
 * own) and `secrets.keyFile` (it opens every sealed password in job data).
 */
import { statSync } from 'node:fs';
import type { Config } from './schema.js';

export function exposedFileWarnings(configFile: string, config: Config): string[] {
  const files = [
    ...(config.dashboard.users.length > 0 ? [{ path: configFile, holds: 'password hashes' }] : []),
    { path: config.secrets.keyFile, holds: 'the key to sealed job secrets' },
  ];
  return files.flatMap(({ path, holds }) => {
    const mode = statSync(path, { throwIfNoEntry: false })?.mode;
    if (mode === undefined || (mode & 0o004) === 0) return [];
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    return [`${path} holds ${holds} and every local user can read it (mode ${octal}): chmod o-rwx ${path}`];
  });
}
