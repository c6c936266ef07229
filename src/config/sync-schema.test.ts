import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from './load.js';
import { configErrorOf } from '../../test/helpers/config-error.js';

const dir = mkdtempSync(join(tmpdir(), 'mailjobs-sync-cfg-'));
const file = join(dir, 'mailjobs.yaml');
writeFileSync(join(dir, 'john.secret'), 'remote-pw\n');
writeFileSync(join(dir, 'admin.secret'), 'admin-pw\n');

const task = (remote: string, extra = '') => `
sync:
  - id: john
    localUser: john
    remote: ${remote}
${extra}`;

const errorOf = (text: string): string => configErrorOf(text, file);

describe('sync tasks in the config', () => {
  it('fills defaults, reads the password file, resolves the key file beside the config', () => {
    const c = parseConfig(
      task('{ host: imap.example.com, username: john@example.com, passwordFile: john.secret }'),
      file,
      {},
    );
    const t = c.sync[0]!;
    expect(t.remote).toMatchObject({ host: 'imap.example.com', security: 'tls', verifyCertificate: true });
    expect(t.remote.login).toMatchObject({ kind: 'user', username: 'john@example.com' });
    expect(t.remote.login.kind === 'user' && t.remote.login.password.reveal()).toBe('remote-pw');
    expect(t.options).toMatchObject({
      exclude: [],
      trash: true,
      deleteOnDestination: false,
      deleteOnSource: false,
      dryRun: false,
    });
    expect(c.imapsync.parallelFolders).toBe(2);
    expect(c.imapsync.adhoc).toEqual({ allow: [], deny: [] });
    expect(parseConfig('secrets: { keyFile: keys/k }', file, {}).secrets.keyFile).toBe(join(dir, 'keys/k'));
    expect(JSON.stringify(c)).not.toContain('remote-pw');
  });

  it('reads the admin logins', () => {
    const sep = parseConfig(
      task('{ host: h, username: john, admin: { user: admin, passwordFile: admin.secret } }'),
      file,
      {},
    );
    expect(sep.sync[0]!.remote.login).toMatchObject({
      kind: 'master',
      username: 'john',
      admin: 'admin',
      separator: '*',
    });
    const authz = parseConfig(
      task(
        '{ host: h, username: john, admin: { user: admin, passwordFile: admin.secret, method: authzid } }',
      ),
      file,
      {},
    );
    expect(authz.sync[0]!.remote.login).toMatchObject({ kind: 'authzid', username: 'john', admin: 'admin' });
  });

  it('names the field of each mistake', () => {
    expect(errorOf(task('{ host: h, username: j }'))).toContain(
      'sync[0].remote.passwordFile: exactly one of password, admin, auth, passwordFile is required',
    );
    expect(errorOf(task('{ host: h, username: j, passwordFile: nope.secret }'))).toMatch(
      /sync\[0\]\.remote\.passwordFile: cannot read secret file .*ENOENT/,
    );
    expect(
      errorOf(task('{ host: h, username: j, password: x }', '    options: { exclude: ["(unclosed"] }')),
    ).toContain('sync[0].options.exclude[0]: invalid regular expression');
    expect(
      errorOf(
        task(
          '{ host: h, username: j, password: x }',
          '    options: { deleteOnSource: { olderThanDays: 0 } }',
        ),
      ),
    ).toContain('sync[0].options.deleteOnSource');
    expect(
      errorOf(task('{ host: h, username: j, password: x }', '    schedule: { cron: "61 * * * *" }')),
    ).toContain('sync[0].schedule');
    expect(
      errorOf(task('{ host: h, username: j, password: x }', '    options: { include: ["(x+x+)+y"] }')),
    ).toContain('sync[0].options.include[0]: pattern refused: a repeated group holds a quantifier');
    expect(
      errorOf(
        task(
          '{ host: h, username: j, password: x }',
          '    options: { folderMap: { rewrite: [{ match: "(a|a)*b", replace: x }] } }',
        ),
      ),
    ).toContain('sync[0].options.folderMap.rewrite[0].match: pattern refused');
    expect(
      errorOf(
        task('{ host: h, username: j, password: x }', '    options: { folderMap: { names: { A: "B//C" } } }'),
      ),
    ).toContain('sync[0].options.folderMap.names.A: no empty level');
    expect(
      errorOf(
        task('{ host: h, username: j, password: x }', '    options: { deleteLimit: { percent: 120 } }'),
      ),
    ).toContain('sync[0].options.deleteLimit.percent');
    expect(errorOf('imapsync: { maxRunning: 0 }')).toContain('imapsync.maxRunning');
    expect(errorOf(task('{ host: "-oProxyCommand=x", username: j, password: x }'))).toContain(
      'sync[0].remote.host: must not start with "-"',
    );
    expect(errorOf('imapsync: { adhoc: { allow: ["127.0.0.1/33"] } }')).toContain(
      'imapsync.adhoc.allow[0]: must be an IP address or a CIDR range',
    );
    expect(errorOf('imapsync: { adhoc: { deny: [imap.example.com] } }')).toContain('imapsync.adhoc.deny[0]');
    const twice = `${task('{ host: h, username: j, password: x }')}  - { id: john, localUser: x, remote: { host: h, username: j, password: x } }\n`;
    expect(errorOf(twice)).toContain('sync[1].id: duplicate sync task id "john"');
  });

  it("accepts the example config's commented sync task once uncommented", () => {
    const example = readFileSync(join(process.cwd(), 'mailjobs.example.yaml'), 'utf8');
    const block = /^#sync:\n((?:#.*\n?)*)/m.exec(example)![1]!;
    const uncommented = example
      .replace('sync: []\n', '')
      .replace(/^#sync:\n(?:#.*\n?)*/m, `sync:\n${block.replace(/^#/gm, '')}`)
      .replace('secrets/john-remote', 'john.secret')
      .replace('secrets/admin }', 'admin.secret }');
    const c = parseConfig(uncommented, file, {});
    expect(c.sync[0]).toMatchObject({
      id: 'john-migration',
      localUser: 'john',
      schedule: { cron: '0 2 * * *' },
    });
    // The whole-domain entry: one task per user.
    expect(c.sync.slice(1).map((t) => [t.id, t.localUser])).toEqual([
      ['old-domain/john@old.example', 'john@example.org'],
      ['old-domain/jane@old.example', 'jane@example.org'],
    ]);
  });
});
