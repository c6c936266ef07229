/**
 * A whole domain in one `sync:` entry: `remote: { host, admin: {...}, users: [...] | usersFile }`
 * (instead of `username`) stands for one task per user, all logging in through the remote admin
 * login. Expanded before the tasks are validated: task `<id>/<user>`, local user from the
 * entry's `localUser` with `{remote}` (the remote user name) and `{user}` (its part before "@")
 * replaced; default `{remote}`. `usersFile`: one user a line, `#` comments, relative to the config.
 */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function userList(
  remote: Record<string, unknown>,
  resolvePath: (path: string) => string,
): string[] | { field: string; message: string } {
  const { users, usersFile } = remote;
  if (users !== undefined && usersFile !== undefined)
    return { field: 'users', message: 'give users or usersFile, not both' };
  if (remote.username !== undefined)
    return { field: 'username', message: 'not with users/usersFile: each user is the username of its task' };
  if (remote.admin === undefined)
    return {
      field: 'admin',
      message: 'users/usersFile need an admin login: one password does not log in as every user',
    };
  let names: unknown = users;
  if (usersFile !== undefined) {
    if (typeof usersFile !== 'string') return { field: 'usersFile', message: 'must be a file name' };
    try {
      names = readFileSync(resolvePath(usersFile), 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('#'));
    } catch (err) {
      return {
        field: 'usersFile',
        message: `cannot read ${usersFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      };
    }
  }
  const field = usersFile !== undefined ? 'usersFile' : 'users';
  if (!Array.isArray(names) || names.some((n) => typeof n !== 'string' || !/^[^\s:*]+$/.test(n)))
    return { field, message: 'must be user names (no spaces, ":" or "*")' };
  if (names.length === 0) return { field, message: 'no user' };
  return names as string[];
}

/** The `sync:` list with its domain entries expanded; a bad one is an issue naming its field. */
export function expandDomains(resolvePath: (path: string) => string) {
  return (list: unknown, ctx: z.RefinementCtx): unknown => {
    if (!Array.isArray(list)) return list;
    return list.flatMap((entry: unknown, i) => {
      const remote = isObject(entry) ? entry.remote : undefined;
      if (
        !isObject(entry) ||
        !isObject(remote) ||
        (remote.users === undefined && remote.usersFile === undefined)
      )
        return [entry];
      const names = userList(remote, resolvePath);
      if (!Array.isArray(names)) {
        ctx.addIssue({ code: 'custom', path: [i, 'remote', names.field], message: names.message });
        return [];
      }
      const { users: _u, usersFile: _f, ...where } = remote;
      const template = typeof entry.localUser === 'string' ? entry.localUser : '{remote}';
      return names.map((name) => ({
        ...entry,
        id: `${String(entry.id)}/${name}`,
        localUser: template.replaceAll('{remote}', name).replaceAll('{user}', name.split('@')[0]!),
        remote: { ...where, username: name },
      }));
    });
  };
}
