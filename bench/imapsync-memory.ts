/**
 * Memory per running sync: one `mailjobs worker` runs K imapsync tasks at once (K = 1, then
 * `--runs`), each copying the same mix of messages (makeCorpus: small ones and a few of several
 * MB) from a remote Dovecot into a local one. Peak RSS (VmHWM) of the worker is read when every
 * task is done; (peak at K − peak at 1) / (K − 1) is what one more running sync costs.
 *
 *   npx tsx bench/imapsync-memory.ts [--messages 400] [--runs 4]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from '../src/client/index.js';
import { openQueue } from '../src/core/queues.js';
import { startDovecot } from '../test/fixtures/dovecot.js';
import { startRedis } from '../test/fixtures/redis.js';
import { loadMaildir, makeCorpus, wireBytes } from './corpus.js';
import { killChildren, mib, startLongRunning, vmHwmKb } from './measure.js';
import { ROOT } from './tools.js';

const { values } = parseArgs({
  options: { messages: { type: 'string', default: '400' }, runs: { type: 'string', default: '4' } },
});
const MESSAGES = Number(values.messages);
const K = Number(values.runs);

async function main(): Promise<void> {
  const [redis, remote, local] = await Promise.all([
    startRedis(),
    startDovecot({ separator: '.', specialUse: false }),
    startDovecot({ separator: '/' }),
  ]);
  const dir = mkdtempSync(path.join(tmpdir(), 'mailjobs-syncmem-'));
  try {
    const corpus = makeCorpus(MESSAGES, 4242);
    const peaks = new Map<number, number | undefined>();
    for (const k of [1, K]) {
      const tasks = await Promise.all(
        Array.from({ length: k }, async (_, i) => {
          const id = `mem${k}-${i}`;
          const password = randomBytes(9).toString('hex');
          await remote.addUser(`r-${id}`, password);
          await local.addUser(`l-${id}`);
          await loadMaildir(remote, `r-${id}`, corpus);
          const secret = path.join(dir, `${id}.password`);
          writeFileSync(secret, password, { mode: 0o600 });
          return { id, secret };
        }),
      );
      const prefix = `mem${randomBytes(3).toString('hex')}`;
      const config = path.join(dir, `k${k}.yaml`);
      writeFileSync(
        config,
        [
          `redis: { url: "${redis.url}", prefix: ${prefix} }`,
          `workers: { concurrency: { imapsync: ${k} } }`,
          'dovecot:',
          `  imap: { host: 127.0.0.1, port: ${local.imapPort}, security: none }`,
          `  lmtp: { host: 127.0.0.1, port: ${local.lmtpPort} }`,
          '  masterUser: vmail',
          `  masterPasswordFile: ${local.masterPasswordFile}`,
          `secrets: { keyFile: ${path.join(dir, 'secrets.key')} }`,
          `remoteSessionsPerHost: ${k}`,
          `imapsync: { maxRunning: ${k} }`,
          'sync:',
          ...tasks.flatMap((t) => [
            `  - id: ${t.id}`,
            `    localUser: l-${t.id}`,
            `    remote: { host: 127.0.0.1, port: ${remote.imapPort}, security: none, username: r-${t.id}, passwordFile: ${t.secret} }`,
          ]),
          '',
        ].join('\n'),
      );
      const worker = startLongRunning(
        process.execPath,
        ['--import', 'tsx', path.join(ROOT, 'src/cli.ts'), 'worker', '--config', config],
        { ...process.env, MAILJOBS_LOG_PRETTY: '0' },
      );
      const client = createClient({ redis: redis.url, prefix });
      const queue = openQueue('imapsync', redis.url, prefix);
      try {
        await worker.waitForLine(/"msg":"mailjobs running"/, 60_000);
        await Promise.all(tasks.map((t) => client.enqueue('imapsync', { task: t.id })));
        for (;;) {
          const c = await queue.getJobCounts('completed', 'failed');
          if ((c.completed ?? 0) + (c.failed ?? 0) >= k) {
            if (c.failed) throw new Error(`${c.failed} sync(s) failed`);
            break;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        peaks.set(k, vmHwmKb(worker.child.pid!));
      } finally {
        await queue.close();
        await client.close();
        await worker.stop();
      }
      console.error(`[bench] ${k} sync(s) at once: peak RSS ${mib(peaks.get(k))}`);
    }
    const one = peaks.get(1);
    const many = peaks.get(K);
    const perRun = one !== undefined && many !== undefined ? (many - one) / (K - 1) : undefined;
    console.log(
      `corpus ${MESSAGES} messages, ${(wireBytes(corpus) / 1e6).toFixed(1)} MB per task; peak RSS: 1 sync ${mib(one)}, ${K} syncs ${mib(many)}; per additional running sync ${mib(perRun)}`,
    );
  } finally {
    await Promise.allSettled([remote.stop(), local.stop()]);
    await redis.stop();
    killChildren();
  }
}

await main();
