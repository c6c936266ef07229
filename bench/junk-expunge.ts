/**
 * spam-expunge over many users: a private Dovecot with U users, each with M messages in Junk
 * (half saved 30 days ago, half today), run through the real processor (`mailjobs run`). The
 * first run expunges the old half; the next ones find nothing to do, which is the daily cost.
 */
import { ImapFlow } from 'imapflow';
import { registry } from '../src/jobs/registry.js';
import type { DovecotFixture } from '../test/fixtures/dovecot.js';
import { runCli, writeConfig } from '../test/helpers/runtime.js';

export interface ExpungeRow {
  run: string;
  users: number;
  concurrency: number;
  expunged: number;
  seconds: number;
}

const DAY_MS = 86_400_000;

async function limited<T>(items: T[], n: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/** Adds `users` users (in parallel batches: Dovecot re-reads its passwd-file once a second). */
export async function populate(fx: DovecotFixture, users: number, perUser: number): Promise<string[]> {
  const names = Array.from({ length: users }, (_, i) => `u${String(i).padStart(4, '0')}`);
  for (let i = 0; i < names.length; i += 100)
    await Promise.all(names.slice(i, i + 100).map((u) => fx.addUser(u)));
  await limited(names, 16, async (user) => {
    const c = new ImapFlow({
      host: '127.0.0.1',
      port: fx.imapPort,
      secure: false,
      auth: { user: fx.masterLogin(user), pass: fx.masterPassword },
      logger: false,
    });
    await c.connect();
    for (let k = 0; k < perUser; k++) {
      const saved = new Date(Date.now() - (k % 2 === 0 ? 30 : 0) * DAY_MS);
      await c.append('Junk', `From: s@example.com\r\nSubject: spam ${k}\r\n\r\nbuy ${k}\r\n`, [], saved);
    }
    await c.logout();
  });
  return names;
}

export async function benchExpunge(
  fx: DovecotFixture,
  redisUrl: string,
  users: number,
  concurrency: number,
  label: string,
): Promise<ExpungeRow> {
  const file = writeConfig(
    redisUrl,
    `benchexp${Date.now()}`,
    [
      'dovecot:',
      `  imap: { host: 127.0.0.1, port: ${fx.imapPort}, security: none }`,
      `  masterPasswordFile: ${fx.masterPasswordFile}`,
      'spamExpunge:',
      `  doveadm: [doveadm, -c, ${fx.configFile}, user, -u, "*"]`,
      `  concurrency: ${concurrency}`,
      '',
    ].join('\n'),
  );
  const started = Date.now();
  const r = await runCli(['run', 'spam-expunge', '{}', '--config', file], registry);
  const seconds = (Date.now() - started) / 1000;
  if (r.code !== 0) throw new Error(`spam-expunge failed: ${r.err}`);
  const result = JSON.parse(r.out) as { users: number; expunged: number; errors: number };
  if (result.users !== users || result.errors > 0)
    throw new Error(`unexpected result: ${r.out.slice(0, 300)}`);
  return { run: label, users: result.users, concurrency, expunged: result.expunged, seconds };
}
