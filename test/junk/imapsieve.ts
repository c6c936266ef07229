/**
 * Installs contrib/dovecot/ for a test exactly as the README says, only relocated: the files
 * are copied verbatim and their absolute production paths are replaced by folders of the test
 * (each path must occur, so a README change that moves one fails here loudly). The scripts are
 * compiled with `sievec`, as the README asks.
 */
import { chmod, chown, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../fixtures/service.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CONTRIB = path.join(ROOT, 'contrib/dovecot');

/** Production paths in contrib/dovecot and README → where the test puts them. */
export interface Relocation {
  sieveDir: string;
  pipeDir: string;
  spoolDir: string;
}

export function relocationIn(dir: string): Relocation {
  return {
    sieveDir: path.join(dir, 'sieve'),
    pipeDir: path.join(dir, 'sieve-pipe'),
    spoolDir: path.join(dir, 'spool'),
  };
}

function relocate(text: string, file: string, pairs: [string, string][]): string {
  for (const [from, to] of pairs) {
    if (!text.includes(from))
      throw new Error(`${file} no longer mentions ${from}: update test/junk/imapsieve.ts`);
    text = text.replaceAll(from, to);
  }
  return text;
}

/** The Dovecot settings of contrib/dovecot/90-mailjobs-imapsieve.conf, relocated. */
export async function imapsieveConfig(r: Relocation): Promise<string> {
  const file = path.join(CONTRIB, '90-mailjobs-imapsieve.conf');
  return relocate(await readFile(file, 'utf8'), file, [
    ['/usr/local/lib/mailjobs/sieve-pipe', r.pipeDir],
    ['/etc/dovecot/sieve/mailjobs', r.sieveDir],
  ]);
}

/** Copies the two scripts and the sh spooler, and makes the spool writable by `owner`. */
export async function installContrib(r: Relocation, owner: { uid: number; gid: number }): Promise<void> {
  await Promise.all([r.sieveDir, r.pipeDir, r.spoolDir].map((d) => mkdir(d, { recursive: true })));
  for (const name of ['report-spam.sieve', 'report-ham.sieve']) {
    await copyFile(path.join(CONTRIB, name), path.join(r.sieveDir, name));
  }
  const spoolerFile = path.join(CONTRIB, 'sieve-pipe/learn');
  const spooler = relocate(await readFile(spoolerFile, 'utf8'), spoolerFile, [
    ['/var/spool/mailjobs/learn', r.spoolDir],
  ]);
  await writeFile(path.join(r.pipeDir, 'learn'), spooler, { mode: 0o755 });
  // As the README's install step: the user Dovecot's mail processes run as writes the spool.
  await chown(r.spoolDir, owner.uid, owner.gid);
  await chmod(r.spoolDir, 0o770);
}

/** `sievec -c <dovecot.conf> script`, as root, after Dovecot's config exists. */
export async function compileScripts(r: Relocation, dovecotConf: string): Promise<void> {
  for (const name of ['report-spam.sieve', 'report-ham.sieve']) {
    const res = await run('sievec', ['-c', dovecotConf, path.join(r.sieveDir, name)]);
    if (res.code !== 0) throw new Error(`sievec ${name} failed: ${res.stderr}`);
  }
}
