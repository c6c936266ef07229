import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from './load.js';
import { configErrorOf } from '../../test/helpers/config-error.js';

const dir = mkdtempSync(join(tmpdir(), 'mailjobs-sync-domain-'));
const file = join(dir, 'mailjobs.yaml');
writeFileSync(join(dir, 'admin.secret'), 'admin-pw\n');
writeFileSync(join(dir, 'users.txt'), '# the old domain\njohn@old.example\n\njane@old.example\n');

const domain = (remote: string, localUser = '') => `
sync:
  - id: old
    ${localUser ? `localUser: "${localUser}"` : ''}
    remote: { host: imap.old.example, admin: { user: admin, passwordFile: admin.secret }, ${remote} }
    options: { trash: false }
`;

describe('a whole domain in one sync entry', () => {
  it('becomes one task per user, each through the admin login, local user from the template', () => {
    const c = parseConfig(
      domain('users: [john@old.example, jane@old.example]', '{user}@new.example'),
      file,
      {},
    );
    expect(c.sync.map((t) => [t.id, t.localUser, t.remote.login.username])).toEqual([
      ['old/john@old.example', 'john@new.example', 'john@old.example'],
      ['old/jane@old.example', 'jane@new.example', 'jane@old.example'],
    ]);
    expect(c.sync[1]!.remote.login).toMatchObject({ kind: 'master', admin: 'admin', separator: '*' });
    expect(c.sync[1]!.options.trash).toBe(false);
  });

  it('reads usersFile beside the config; the local user defaults to the remote one', () => {
    const c = parseConfig(domain('usersFile: users.txt'), file, {});
    expect(c.sync.map((t) => [t.id, t.localUser])).toEqual([
      ['old/john@old.example', 'john@old.example'],
      ['old/jane@old.example', 'jane@old.example'],
    ]);
  });

  it.each([
    ['users: [a], usersFile: users.txt', 'sync[0].remote.users: give users or usersFile, not both'],
    ['usersFile: nope.txt', 'sync[0].remote.usersFile: cannot read nope.txt: ENOENT'],
    ['users: ["a b"]', 'sync[0].remote.users: must be user names (no spaces, ":" or "*")'],
    ['users: []', 'sync[0].remote.users: no user'],
    ['users: [a], username: b', 'sync[0].remote.username: not with users/usersFile'],
  ])('refuses %s in one line', (remote, message) => {
    expect(configErrorOf(domain(remote), file)).toContain(message);
  });

  it('needs the admin login', () => {
    const text = 'sync:\n  - id: old\n    remote: { host: imap.old.example, users: [a], password: x }\n';
    expect(configErrorOf(text, file)).toContain('sync[0].remote.admin: users/usersFile need an admin login');
  });
});
