/** `mailjobs quarantine list | release | delete` against a real Dovecot and Redis. */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../fixtures/ports.js';
import { writeConfig, freshPrefix } from '../helpers/runtime.js';
import {
  type World,
  append,
  cli,
  configFile,
  inbox,
  indexed,
  quarantined,
  runJob,
  setup,
  startWorld,
} from './world.js';

let w: World;
beforeAll(async () => {
  w = await startWorld();
});
afterAll(async () => {
  await w?.stop();
});

const BODY = 'Hello there, a body the CLI never prints';

describe('mailjobs quarantine', () => {
  it('list (text, --json, --search), release to both recipients, delete; refusals in one line', async () => {
    const s = await setup(w, 'cli');
    const file = configFile(w, s, 'notify: off');
    await append(w, s.quarantine, quarantined({ to: [s.alice, s.bob], subject: 'Pills', body: BODY }));
    await append(w, s.quarantine, quarantined({ from: '', to: [s.bob], subject: 'Bounce spam', body: BODY }));
    await append(w, s.quarantine, quarantined({ contract: false, subject: 'Mystery', body: BODY }));
    await runJob(file);
    const items = await indexed(w, s);
    const id = (subject: string) => items.find((i) => i.subject === subject)!.id;

    const text = await cli(['quarantine', 'list', '--config', file]);
    expect(text.code, text.err).toBe(0);
    const lines = text.out.split('\n');
    expect(lines[0]).toBe('3 quarantined message(s)');
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^${id('Pills')}  \\S+Z  1015\\.20  spammer@spam\\.example -> ${s.alice},${s.bob}  Pills$`,
        ),
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`^${id('Bounce spam')}  .* <> -> ${s.bob}  Bounce spam$`)),
    );
    expect(lines).toContainEqual(expect.stringMatching(/ {2}\? -> \? {2}Mystery {2}\[not releasable\]$/));
    expect(text.out).not.toContain('body');

    const search = await cli([
      'quarantine',
      'list',
      '--search',
      s.alice.toUpperCase(),
      '--json',
      '--config',
      file,
    ]);
    expect(JSON.parse(search.out)).toMatchObject({ total: 1, items: [{ subject: 'Pills' }] });

    const refused = await cli(['quarantine', 'release', id('Mystery'), '--config', file]);
    expect(refused.code).toBe(1);
    expect(refused.err).toBe(
      `release of ${id('Mystery')} failed: quarantined message ${id('Mystery')} cannot be released: no original envelope (X-Quarantine-From/To missing); delete it instead`,
    );

    const released = await cli(['quarantine', 'release', id('Pills'), '--config', file]);
    expect(released.code, released.err).toBe(0);
    expect(released.out).toBe(`released ${id('Pills')} to ${s.alice}, ${s.bob}`);
    expect(released.logs).toContainEqual(
      expect.objectContaining({
        msg: 'quarantined message released',
        id: id('Pills'),
        by: expect.stringMatching(/^cli:/),
      }),
    );
    const bounce = await cli(['quarantine', 'release', id('Bounce spam'), '--config', file]);
    expect(bounce.code, bounce.err).toBe(0);
    expect((await inbox(w, s.alice)).map((m) => m.subject)).toEqual(['Pills']);
    expect((await inbox(w, s.bob)).map((m) => m.subject).sort()).toEqual(['Bounce spam', 'Pills']);
    expect((await inbox(w, s.bob)).find((m) => m.subject === 'Bounce spam')!.source).toMatch(
      /^Return-Path: <>\r\n/,
    );

    const deleted = await cli(['quarantine', 'delete', id('Mystery'), '--config', file]);
    expect(deleted.code, deleted.err).toBe(0);
    expect(deleted.out).toBe(`deleted ${id('Mystery')}`);
    expect(await inbox(w, s.quarantine)).toEqual([]);
    expect((await cli(['quarantine', 'list', '--config', file])).out).toBe('0 quarantined message(s)');
    const again = await cli(['quarantine', 'delete', id('Mystery'), '--config', file]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(
      /^delete of \S+ failed: no quarantined message \S+ \(see mailjobs quarantine list\)$/,
    );
  });

  it('usage mistakes exit 2 with the command help; --help prints it', async () => {
    const file = writeConfig(w.redis.url, freshPrefix());
    for (const argv of [
      ['quarantine', 'release'],
      ['quarantine', 'release', 'abc'],
      ['quarantine', 'delete', '1-2', '3-4'],
      ['quarantine', 'list', '--bogus'],
      ['quarantine', 'delete', '1-2', '--learn-ham'],
    ]) {
      const r = await cli([...argv, '--config', file]);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err.split('\n')[0]).toMatch(/^mailjobs quarantine (release|delete|list): /);
      expect(r.err).toContain('usage: mailjobs quarantine');
    }
    expect((await cli(['quarantine'])).err).toContain(
      '"quarantine" needs one of: quarantine list, quarantine release, quarantine delete',
    );
    const help = await cli(['quarantine', 'release', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('usage: mailjobs quarantine release ID [--learn-ham] [--config FILE]');
  });

  it('exits 3 when Redis is unreachable', async () => {
    const file = writeConfig(`redis://127.0.0.1:${await freePort()}`, freshPrefix());
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', 'quarantine', 'list', '--config', file],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(3);
    expect(stderr).toMatch(/Redis/);
  });
});
