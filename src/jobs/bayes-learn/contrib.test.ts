/**
 * The Dovecot files the README tells admins to install are the ones in contrib/dovecot/, which
 * the end-to-end test runs: the README must show each of them unchanged.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const readme = readFileSync('README.md', 'utf8');

describe('README and contrib/dovecot', () => {
  it.each([
    'contrib/dovecot/99-mailjobs-imapsieve.conf',
    'contrib/dovecot/report-spam.sieve',
    'contrib/dovecot/report-ham.sieve',
    'contrib/dovecot/sieve-pipe/learn',
  ])('the README shows %s verbatim, in a code block', (file) => {
    const text = readFileSync(file, 'utf8');
    expect(readme).toMatch(/```\w*\n/);
    expect(readme.includes(`\n${text}\`\`\``)).toBe(true);
  });

  it('the conf and the spooler default to what bayesLearn defaults to', () => {
    const conf = readFileSync('contrib/dovecot/99-mailjobs-imapsieve.conf', 'utf8');
    const spooler = readFileSync('contrib/dovecot/sieve-pipe/learn', 'utf8');
    const defaults = readFileSync('src/config/junk-defaults.ts', 'utf8');
    expect(defaults).toContain("DEFAULT_SPOOL_DIR = '/var/spool/mailjobs/learn'");
    expect(defaults).toContain('DEFAULT_MAX_MESSAGE_KILOBYTES = 1024;');
    expect(conf).toContain('  sieve_env_mailjobs_spool_dir = /var/spool/mailjobs/learn\n');
    expect(conf).toContain('  sieve_env_mailjobs_max_kilobytes = 1024\n');
    expect(spooler).toContain('SPOOL=${2:-/var/spool/mailjobs/learn}\n');
    expect(spooler).toContain('MAX_KILOBYTES=${3:-1024}\n');
  });

  it('the sh spooler spools a message of the limit and refuses one byte more (logged, exit 0)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mailjobs-spooler-'));
    try {
      const spool = path.join(dir, 'spool');
      mkdirSync(spool);
      const learn = (bytes: number, args = [spool, '1']) =>
        spawnSync('sh', ['contrib/dovecot/sieve-pipe/learn', 'spam', ...args], {
          input: Buffer.alloc(bytes, 0x61),
          env: { PATH: process.env.PATH, USER: 'alice' },
        });
      const over = learn(1025);
      expect(over.status).toBe(0);
      expect(over.stderr.toString()).toBe(
        'mailjobs learn: user=alice class=spam: not learned: over 1024 bytes (bayesLearn.maxMessageKilobytes)\n',
      );
      expect(readdirSync(spool)).toEqual([]);
      const big = learn(5_000_000); // far over: drained to the end, Dovecot's write never fails
      expect([big.status, big.stderr.toString()]).toEqual([0, over.stderr.toString()]);
      expect(readdirSync(spool)).toEqual([]);
      const fits = learn(1024);
      expect([fits.status, fits.stderr.toString()]).toEqual([0, '']);
      const [file] = readdirSync(spool);
      expect(readFileSync(path.join(spool, file!), 'latin1')).toMatch(
        /^\{"v":1,"class":"spam","user":"alice","movedAt":\d+\}\na{1024}$/,
      );
      // Settings that make no sense are refused, and the message drained.
      for (const [args, why] of [
        [['spool', '1'], 'the spool must be an absolute path (sieve_env_mailjobs_spool_dir)'],
        [[spool, '08'], 'the size limit must be a number of KiB (sieve_env_mailjobs_max_kilobytes)'],
      ] as const) {
        const bad = learn(10, [...args]);
        expect([bad.status, bad.stderr.toString()]).toEqual([
          0,
          `mailjobs learn: user=alice class=spam: not learned: ${why}\n`,
        ]);
      }
      expect(readdirSync(spool)).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
