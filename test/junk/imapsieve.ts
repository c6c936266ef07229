/**
 * Installs contrib/dovecot/ for a test exactly as the README says: every file copied unchanged
 * (the conf next to Debian's stock 90-sieve*.conf), and the paths and limits of the test set the
 * way the README tells an admin to change them: in a conf file that loads after ours. The
 * scripts are compiled with `sievec`, as the README asks.
 */
import { chmod, chown, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../fixtures/service.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CONTRIB = path.join(ROOT, 'contrib/dovecot');
/** Debian's stock conf.d (package dovecot-sieve), which ours must load after. */
const DEBIAN_CONF_D = '/etc/dovecot/conf.d';

/** Where the test keeps what the README installs under /etc and /usr/local. */
export interface Install {
  confDir: string;
  sieveDir: string;
  pipeDir: string;
  spoolDir: string;
}

export function installIn(dir: string): Install {
  return {
    confDir: path.join(dir, 'conf.d'),
    sieveDir: path.join(dir, 'sieve'),
    pipeDir: path.join(dir, 'sieve-pipe'),
    spoolDir: path.join(dir, 'spool'),
  };
}

/** The line to append to dovecot.conf: Debian's files, ours, then the local settings, in order. */
export const includeLine = (i: Install): string => `!include ${i.confDir}/*.conf`;

/**
 * Copies the files (before Dovecot starts: its config includes them). Debian's 90-sieve.conf gets the
 * `sieve_plugins` line an admin uncomments for sieve_extprograms (its own comment asks for it),
 * which our file must override by loading after it.
 */
export async function installContrib(i: Install, maxMessageKilobytes: number): Promise<void> {
  await Promise.all([i.confDir, i.sieveDir, i.pipeDir, i.spoolDir].map((d) => mkdir(d, { recursive: true })));
  const sieveConf = await readFile(path.join(DEBIAN_CONF_D, '90-sieve.conf'), 'utf8');
  if (!sieveConf.includes('  #sieve_plugins =\n'))
    throw new Error('Debian 90-sieve.conf changed: update test/junk/imapsieve.ts');
  await writeFile(
    path.join(i.confDir, '90-sieve.conf'),
    sieveConf.replace('  #sieve_plugins =\n', '  sieve_plugins = sieve_extprograms\n'),
  );
  await copyFile(
    path.join(DEBIAN_CONF_D, '90-sieve-extprograms.conf'),
    path.join(i.confDir, '90-sieve-extprograms.conf'),
  );
  await copyFile(
    path.join(CONTRIB, '99-mailjobs-imapsieve.conf'),
    path.join(i.confDir, '99-mailjobs-imapsieve.conf'),
  );
  for (const name of ['report-spam.sieve', 'report-ham.sieve']) {
    await copyFile(path.join(CONTRIB, name), path.join(i.sieveDir, name));
  }
  await copyFile(path.join(CONTRIB, 'sieve-pipe/learn'), path.join(i.pipeDir, 'learn'));
  await chmod(path.join(i.pipeDir, 'learn'), 0o755);
  // README: "change paths and names in a file that loads after it".
  await writeFile(
    path.join(i.confDir, '99-mailjobs-local.conf'),
    [
      'plugin {',
      `  sieve_pipe_bin_dir = ${i.pipeDir}`,
      `  sieve_env_mailjobs_spool_dir = ${i.spoolDir}`,
      `  sieve_env_mailjobs_max_kilobytes = ${maxMessageKilobytes}`,
      `  imapsieve_mailbox1_before = file:${i.sieveDir}/report-spam.sieve`,
      `  imapsieve_mailbox2_before = file:${i.sieveDir}/report-ham.sieve`,
      '}',
      '',
    ].join('\n'),
  );
}

/** The spool: owned by the user Dovecot's mail processes run as, mode 2770, as the README's `install -d`. */
export async function ownSpool(i: Install, owner: { uid: number; gid: number }): Promise<void> {
  await chown(i.spoolDir, owner.uid, owner.gid);
  await chmod(i.spoolDir, 0o2770);
}

/** `sievec -c <dovecot.conf> script`, as root, after Dovecot's config exists. */
export async function compileScripts(i: Install, dovecotConf: string): Promise<void> {
  for (const name of ['report-spam.sieve', 'report-ham.sieve']) {
    const res = await run('sievec', ['-c', dovecotConf, path.join(i.sieveDir, name)]);
    if (res.code !== 0) throw new Error(`sievec ${name} failed: ${res.stderr}`);
  }
}
