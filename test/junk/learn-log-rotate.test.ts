/**
 * contrib/logrotate.d/mailjobs rotates the learn log (bayesLearn.logFile) with no signal and no
 * copytruncate: mailjobs-learn opens the file by name for each line, so after a rotation its
 * next line goes into the new file. Run with the real logrotate on the contrib file, with the
 * path moved into a temp folder and its user and group (vmail, mailjobs) made this test's own.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { requireBinary, run } from '../fixtures/service.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mailjobs-learn-log-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** mailjobs-learn with a user but a class it refuses: it logs one "not learned" line and exits 0. */
async function refusedLearn(config: string, user: string) {
  const args = ['--import', 'tsx', 'src/bin/mailjobs-learn.ts', '--class', 'neither', '--user', user];
  const r = await run(process.execPath, [...args, '--config', config], { input: 'Subject: x\n\nx\n' });
  expect(r.code).toBe(0);
}

it('after a rotation, mailjobs-learn writes into the new learn.log; the rotated one is left as it was', async () => {
  const logDir = path.join(dir, 'log');
  await mkdir(logDir);
  const log = path.join(logDir, 'learn.log');
  const config = path.join(dir, 'mailjobs.yaml');
  await writeFile(config, `bayesLearn: { spoolDir: ${path.join(dir, 'spool')}, logFile: ${log} }\n`);

  const user = userInfo().username;
  const group = spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim();
  const contrib = await readFile('contrib/logrotate.d/mailjobs', 'utf8');
  expect(contrib).toContain('/var/log/mailjobs/learn.log {');
  const conf = path.join(dir, 'logrotate.conf');
  await writeFile(
    conf,
    contrib
      .replaceAll('/var/log/mailjobs/', `${logDir}/`)
      .replace('su vmail mailjobs', `su ${user} ${group}`)
      .replace('create 0660 vmail mailjobs', `create 0660 ${user} ${group}`),
    { mode: 0o644 },
  );

  await refusedLearn(config, 'alice');
  expect(await readFile(log, 'utf8')).toMatch(/^\S+ user=alice class=neither: not learned/);

  const rotate = await run(requireBinary('logrotate'), ['--force', '--state', path.join(dir, 'state'), conf]);
  expect(rotate.stderr).toBe('');
  expect(rotate.code).toBe(0);
  expect(await readFile(log, 'utf8')).toBe(''); // created empty, as the "create" line says
  const rotated = await readFile(`${log}.1`, 'utf8'); // delaycompress: the newest stays plain text

  await refusedLearn(config, 'bob');
  expect(await readFile(log, 'utf8')).toMatch(/^\S+ user=bob class=neither: not learned[^\n]*\n$/);
  expect(await readFile(`${log}.1`, 'utf8')).toBe(rotated);
  expect(rotated).toContain('user=alice');
});
