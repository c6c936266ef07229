/**
 * A throwaway system group with one member, for the `spamtrainers`-style gate: getent reads the
 * real NSS databases, and gpasswd only accepts members that are system users, so both are
 * created (unique names, no home, no login) and removed again by `remove()`.
 */
import { randomBytes } from 'node:crypto';
import { run } from '../fixtures/service.js';

export interface SystemGroup {
  group: string;
  member: string;
  remove(): Promise<void>;
}

async function must(command: string, args: string[]): Promise<void> {
  const r = await run(command, args);
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${r.code}): ${r.stderr}`);
}

export async function createSystemGroup(): Promise<SystemGroup> {
  const id = randomBytes(3).toString('hex');
  const member = `mjt${id}`;
  const group = `mjt${id}g`;
  await must('useradd', [
    '--system',
    '--no-create-home',
    '--no-user-group',
    '--shell',
    '/usr/sbin/nologin',
    member,
  ]);
  try {
    await must('groupadd', ['--system', group]);
    await must('gpasswd', ['--add', member, group]);
  } catch (err) {
    await run('userdel', [member]);
    await run('groupdel', [group]);
    throw err;
  }
  return {
    group,
    member,
    async remove() {
      // Both, even if one fails.
      const results = await Promise.all([run('groupdel', [group]), run('userdel', [member])]);
      const failed = results.find((r) => r.code !== 0);
      if (failed) throw new Error(`cleanup of ${group}/${member} failed: ${failed.stderr}`);
    },
  };
}
