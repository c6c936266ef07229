/**
 * The Rspamd and Postfix settings the README tells admins to install are the ones in contrib/,
 * which the end-to-end test (chain.test.ts) runs: the README must show each of them unchanged.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const readme = readFileSync('README.md', 'utf8');

describe('README and contrib/rspamd, contrib/postfix', () => {
  it.each(['contrib/rspamd/rspamd.conf.local', 'contrib/postfix/main.cf'])(
    'the README shows %s verbatim, in a code block',
    (file) => {
      expect(readme.includes(`\n\`\`\`\n${readFileSync(file, 'utf8')}\`\`\`\n`)).toBe(true);
    },
  );

  it('the README installs the plugin under the name Rspamd loads it by (the config section)', () => {
    const conf = readFileSync('contrib/rspamd/rspamd.conf.local', 'utf8');
    expect(conf).toMatch(/^mailjobs_quarantine \{$/m);
    expect(readme).toContain(
      'install -m 644 contrib/rspamd/plugins.d/mailjobs_quarantine.lua /etc/rspamd/plugins.d/\n',
    );
    expect(readme).toContain('cat contrib/rspamd/rspamd.conf.local >> /etc/rspamd/rspamd.conf.local');
  });
});
