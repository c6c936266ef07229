/**
 * The Dovecot files the README tells admins to install are the ones in contrib/dovecot/, which
 * the end-to-end test runs: the README must show each of them unchanged.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const readme = readFileSync('README.md', 'utf8');

describe('README and contrib/dovecot', () => {
  it.each([
    'contrib/dovecot/90-mailjobs-imapsieve.conf',
    'contrib/dovecot/report-spam.sieve',
    'contrib/dovecot/report-ham.sieve',
    'contrib/dovecot/sieve-pipe/learn',
  ])('the README shows %s verbatim, in a code block', (file) => {
    const text = readFileSync(file, 'utf8');
    expect(readme).toMatch(/```\w*\n/);
    expect(readme.includes(`\n${text}\`\`\``)).toBe(true);
  });

  it('the spooler writes where bayesLearn.spoolDir points by default', () => {
    expect(readFileSync('contrib/dovecot/sieve-pipe/learn', 'utf8')).toContain(
      'SPOOL=/var/spool/mailjobs/learn\n',
    );
    expect(readFileSync('src/config/junk-defaults.ts', 'utf8')).toContain(
      "DEFAULT_SPOOL_DIR = '/var/spool/mailjobs/learn'",
    );
  });

  it('the sh spooler spools a message of MAX_BYTES and refuses one byte more (logged, exit 0)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mailjobs-spooler-'));
    try {
      const spool = path.join(dir, 'spool');
      mkdirSync(spool);
      const script = readFileSync('contrib/dovecot/sieve-pipe/learn', 'utf8')
        .replace('SPOOL=/var/spool/mailjobs/learn\n', `SPOOL=${spool}\n`)
        .replace('MAX_BYTES=1048576\n', 'MAX_BYTES=1000\n');
      writeFileSync(path.join(dir, 'learn'), script);
      const learn = (bytes: number) =>
        spawnSync('sh', [path.join(dir, 'learn'), 'spam'], { input: Buffer.alloc(bytes, 0x61), env: { PATH: process.env.PATH, USER: 'alice' } }); // prettier-ignore
      const over = learn(1001);
      expect(over.status).toBe(0);
      expect(over.stderr.toString()).toBe('mailjobs learn: user=alice class=spam: not learned: over 1000 bytes (bayesLearn.maxMessageKilobytes)\n'); // prettier-ignore
      expect(readdirSync(spool)).toEqual([]);
      const big = learn(5_000_000); // far over: drained to the end, Dovecot's write never fails
      expect([big.status, big.stderr.toString()]).toEqual([0, over.stderr.toString()]);
      expect(readdirSync(spool)).toEqual([]);
      const fits = learn(1000);
      expect([fits.status, fits.stderr.toString()]).toEqual([0, '']);
      const [file] = readdirSync(spool);
      expect(readFileSync(path.join(spool, file!), 'latin1')).toMatch(/^\{"v":1,"class":"spam","user":"alice","movedAt":\d+\}\na{1000}$/); // prettier-ignore
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
