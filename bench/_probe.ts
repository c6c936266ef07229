import { startDovecot } from '../test/fixtures/dovecot.js';
import { startRedis } from '../test/fixtures/redis.js';
import { makeCorpus, loadMaildir, messageCount, distinctMessageIds, wireBytes } from './corpus.js';
import { runGetmail6, runFetchmail, runMailjobs, writeMailjobsConfig, toolDir } from './tools.js';
const t0 = Date.now();
const corpus = makeCorpus(100, 42);
console.log(
  'corpus',
  Date.now() - t0,
  'ms',
  wireBytes(corpus),
  corpus.filter((m) => m.kind === 'big').length,
);
const [remote, local, redis] = await Promise.all([startDovecot(), startDovecot(), startRedis()]);
try {
  for (const name of ['r1', 'r2', 'r3']) {
    await remote.addUser(name, 'pw' + name);
    await loadMaildir(remote, name, corpus);
  }
  await local.addUser('gm');
  await local.addUser('fm@bench.local');
  await local.addUser('mj');
  const g = await runGetmail6(
    { remote, local, remoteUser: 'r1', remotePassword: 'pwr1', localUser: 'gm' },
    { timeoutMs: 60000 },
  );
  console.log(
    'getmail',
    g.code,
    g.wallMs,
    g.peakRssKb,
    g.stderr.slice(-500),
    g.stdout.slice(-500),
    await messageCount(local, 'gm'),
    await distinctMessageIds(local, 'gm'),
  );
  const f = await runFetchmail(
    { remote, local, remoteUser: 'r2', remotePassword: 'pwr2', localUser: 'fm@bench.local' },
    { timeoutMs: 60000 },
  );
  console.log(
    'fetchmail',
    f.code,
    f.wallMs,
    f.peakRssKb,
    f.stderr.slice(-1500),
    f.stdout.slice(-500),
    await messageCount(local, 'fm@bench.local'),
  );
  const dir = toolDir('mj');
  const cfg = writeMailjobsConfig(dir, {
    redisUrl: redis.url,
    prefix: 'b1',
    remote,
    local,
    connectors: [{ id: 'acct-mj', remoteUser: 'r3', remotePassword: 'pwr3', localUser: 'mj' }],
  });
  const m = await runMailjobs(cfg, 'acct-mj', { timeoutMs: 60000 });
  console.log(
    'mailjobs',
    m.code,
    m.wallMs,
    m.peakRssKb,
    m.result,
    m.stderr.slice(-300),
    await messageCount(local, 'mj'),
  );
} finally {
  await Promise.allSettled([remote.stop(), local.stop()]);
  await redis.stop();
}
