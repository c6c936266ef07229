/**
 * The Dovecot files the README tells admins to install are the ones in contrib/dovecot/, which
 * the end-to-end test runs: the README must show each of them unchanged.
 */
import { readFileSync } from 'node:fs';
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
});
