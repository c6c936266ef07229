import { startDovecot } from '../test/fixtures/dovecot.js';
import { startRedis } from '../test/fixtures/redis.js';
import { makeCorpus, loadMaildir, messageCount } from './corpus.js';
import { runMailjobs, writeMailjobsConfig, toolDir } from './tools.js';
const corpus = makeCorpus(100, 42);
const [remote, local, redis] = await Promise.all([startDovecot(), startDovecot(), startRedis()]);
try {
  for (const name of ['r1', 'r2']) {
    await remote.addUser(name, 'pw' + name);
    await loadMaildir(remote, name, corpus);
  }
  await local.addUser('mj1');
  await local.addUser('mj2');
  const dir = toolDir('mj');
  const cfg = writeMailjobsConfig(dir, {
    redisUrl: redis.url,
    prefix: 'b1',
    remote,
    local,
    connectors: [
      { id: 'acct-1', remoteUser: 'r1', remotePassword: 'pwr1', localUser: 'mj1' },
      { id: 'acct-2', remoteUser: 'r2', remotePassword: 'pwr2', localUser: 'mj2' },
    ],
  });
  const a = await runMailjobs(cfg, 'acct-1', { timeoutMs: 60000 });
  console.log('plain', a.code, a.wallMs, a.result?.durationMs, await messageCount(local, 'mj1'));
  const b = await runMailjobs(cfg, 'acct-2', {
    timeoutMs: 60000,
    nodeArgs: ['--import', '/tmp/mjdiag/nodelay.mjs', '--cpu-prof', '--cpu-prof-dir', '/tmp/mjdiag/prof'],
  });
  console.log('nodelay', b.code, b.wallMs, b.result?.durationMs, await messageCount(local, 'mj2'));
} finally {
  await Promise.allSettled([remote.stop(), local.stop()]);
  await redis.stop();
}
