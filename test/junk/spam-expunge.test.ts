/**
 * spam-expunge against a real Dovecot (both hierarchy separators), run as `mailjobs run`:
 * old Junk messages go, young ones stay, INBOX, Trash, Junk's own subfolder and look-alike
 * folders are never touched; per-user retention and `infinite` are honored; a user without the
 * configured Junk folder and a user whose login is refused are reported, not fatal.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registry } from '../../src/jobs/registry.js';
import type { SpamExpungeResult } from '../../src/jobs/spam-expunge/processor.js';
import { startDovecot, type DovecotFixture } from '../fixtures/dovecot.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { freshPrefix, runCli, writeConfig } from '../helpers/runtime.js';
import { idsIn, putMessages } from './mailboxes.js';

let redis: RedisFixture;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

function config(fx: DovecotFixture, spamExpunge: string, masterPasswordFile = fx.masterPasswordFile): string {
  return writeConfig(
    redis.url,
    freshPrefix(),
    [
      'dovecot:',
      `  imap: { host: 127.0.0.1, port: ${fx.imapPort}, security: none }`,
      `  masterPasswordFile: ${masterPasswordFile}`,
      'spamExpunge:',
      `  doveadm: [doveadm, -c, ${fx.configFile}, user, -u, "*"]`,
      ...spamExpunge.split('\n').map((l) => `  ${l}`),
      '',
    ].join('\n'),
  );
}

async function run(file: string, payload: object = {}) {
  const r = await runCli(['run', 'spam-expunge', JSON.stringify(payload), '--config', file], registry);
  return { ...r, result: r.code === 0 ? (JSON.parse(r.out) as SpamExpungeResult) : undefined };
}

const byUser = (r: SpamExpungeResult | undefined, user: string) => r?.perUser.find((u) => u.user === user);

describe.each(['/', '.'] as const)('spam-expunge with separator "%s"', (sep) => {
  let fx: DovecotFixture;
  const child = `Junk${sep}old`;
  const lookalike = sep === '/' ? 'Junk.archive' : 'Junk-archive';

  beforeAll(async () => {
    fx = await startDovecot({ separator: sep });
    for (const u of ['alice', 'bob', 'carol']) await fx.addUser(u);
    const old = (p: string) => [{ id: `${p}-old`, daysAgo: 100 }];
    for (const u of ['alice', 'bob', 'carol']) {
      await putMessages(fx, u, 'INBOX', old(`${u}-inbox`));
      await putMessages(fx, u, 'Trash', old(`${u}-trash`));
      await putMessages(fx, u, child, old(`${u}-child`));
      await putMessages(fx, u, lookalike, old(`${u}-lookalike`));
      await putMessages(fx, u, 'Spam', old(`${u}-spam`));
    }
    await putMessages(fx, 'alice', 'Junk', [
      { id: 'a20', daysAgo: 20 },
      { id: 'a16', daysAgo: 16 },
      // a minute and a half younger than the cutoff: same date, so only the exact INTERNALDATE keeps it
      { id: 'a14', daysAgo: 14.999 },
      { id: 'a0', daysAgo: 0.01 },
    ]);
    await putMessages(fx, 'bob', 'Junk', [
      { id: 'b40', daysAgo: 40 },
      { id: 'b20', daysAgo: 20 },
    ]);
    await putMessages(fx, 'carol', 'Junk', [{ id: 'c400', daysAgo: 400 }]);
  });
  afterAll(async () => {
    await fx?.stop();
  });

  it('dry run: reports what would go and changes nothing', async () => {
    const { code, result, err } = await run(config(fx, 'perUser: { bob: 30, carol: infinite }'), {
      dryRun: true,
    });
    expect(code, err).toBe(0);
    expect(result).toMatchObject({ dryRun: true, users: 3, old: 3, expunged: 0, examined: 6, infinite: 1 });
    expect(byUser(result, 'alice')).toMatchObject({
      status: 'done',
      folders: ['Junk'],
      examined: 4,
      old: 2,
      expunged: 0,
      kept: 4,
    });
    expect(await idsIn(fx, 'alice', 'Junk')).toEqual(['a0', 'a14', 'a16', 'a20']);
  });

  it("expunges only old Junk messages, per the user's retention, and nothing elsewhere", async () => {
    const file = config(fx, 'perUser: { bob: 30, carol: infinite }');
    const { code, result, err } = await run(file);
    expect(code, err).toBe(0);
    expect(result).toMatchObject({ dryRun: false, users: 3, expunged: 3, errors: 0, noJunk: 0, infinite: 1 });
    expect(byUser(result, 'alice')).toMatchObject({ retentionDays: 15, examined: 4, expunged: 2, kept: 2 });
    expect(byUser(result, 'bob')).toMatchObject({ retentionDays: 30, examined: 2, expunged: 1, kept: 1 });
    expect(byUser(result, 'carol')).toMatchObject({ retentionDays: 'infinite', status: 'infinite' });

    expect(await idsIn(fx, 'alice', 'Junk')).toEqual(['a0', 'a14']);
    expect(await idsIn(fx, 'bob', 'Junk')).toEqual(['b20']);
    expect(await idsIn(fx, 'carol', 'Junk')).toEqual(['c400']);
    for (const u of ['alice', 'bob', 'carol']) {
      expect(await idsIn(fx, u, 'INBOX')).toEqual([`${u}-inbox-old`]);
      expect(await idsIn(fx, u, 'Trash')).toEqual([`${u}-trash-old`]);
      expect(await idsIn(fx, u, child)).toEqual([`${u}-child-old`]);
      expect(await idsIn(fx, u, lookalike)).toEqual([`${u}-lookalike-old`]);
      expect(await idsIn(fx, u, 'Spam')).toEqual([`${u}-spam-old`]);
    }
    const status = await runCli(['status', '--config', file], registry);
    expect(status.out).toMatch(
      /^ {4}all users {2}retention 15 days, 2 per-user override\(s\); last run ok \d+ s ago \(\d\d:\d\d\), 3 users, 3 expunged, 3 kept, 0 without Junk, 0 failed$/m,
    );
  });

  it('a configured Junk name: users without that folder and refused logins are reported, others cleaned', async () => {
    await putMessages(fx, 'alice', 'Junk', [{ id: 'a30', daysAgo: 30 }]);
    const file = config(fx, `junkFolder: ${child}\nusers: [alice, ghost, bob]\nretentionDays: 50`);
    await putMessages(fx, 'bob', child, [{ id: 'bob-child-60', daysAgo: 60 }]);
    const { code, result, err } = await run(file);
    expect(code, err).toBe(0);
    expect(result).toMatchObject({ users: 3, loginRefused: 1, expunged: 3 });
    expect(byUser(result, 'ghost')).toMatchObject({ status: 'login-refused' });
    expect(byUser(result, 'alice')).toMatchObject({ folders: [child], expunged: 1 });
    expect(await idsIn(fx, 'bob', child)).toEqual([]);
    // the \Junk folder itself was not the configured one: untouched
    expect(await idsIn(fx, 'alice', 'Junk')).toContain('a30');

    const none = await run(config(fx, 'junkFolder: NoSuchFolder\nusers: [alice]'));
    expect(none.result).toMatchObject({ noJunk: 1, expunged: 0 });
    expect(byUser(none.result, 'alice')).toMatchObject({ status: 'no-junk', folders: [] });
  });

  it('one user on demand', async () => {
    await putMessages(fx, 'bob', 'Junk', [{ id: 'b99', daysAgo: 99 }]);
    const { code, result } = await run(config(fx, ''), { user: 'bob' });
    expect(code).toBe(0);
    expect(result?.perUser.map((u) => u.user)).toEqual(['bob']);
    expect(await idsIn(fx, 'bob', 'Junk')).toEqual([]);
    expect(await idsIn(fx, 'alice', 'Junk')).toContain('a30');
  });

  it('fails the run, naming the master password, when every login is refused', async () => {
    const wrong = `${fx.dir}/../wrong-master-${sep === '/' ? 'slash' : 'dot'}`;
    writeFileSync(wrong, 'not-the-password');
    const { code, err } = await run(config(fx, '', wrong));
    expect(code).toBe(1);
    expect(err).toMatch(/every master-user login was refused.*dovecot.masterPasswordFile/);
  });
});
