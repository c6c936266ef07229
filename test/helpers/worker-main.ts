/**
 * A worker process for tests: the real startWorkers + signal handling of `mailjobs worker`,
 * with the test-only echo job. argv: <config file>. Prints "ready" once workers run.
 */
import { loadConfig } from '../../src/config/load.js';
import { connectRedis } from '../../src/core/redis.js';
import { untilStopSignal } from '../../src/cli/serve.js';
import { startWorkers } from '../../src/worker/workers.js';
import { silentLog } from './runtime.js';
import { testJobs } from './test-jobs.js';

const config = loadConfig(process.argv[2]!, {});
const redisUrl = config.redis.url!;
const redis = connectRedis(redisUrl);
const set = startWorkers({ jobs: testJobs, config: () => config, redisUrl, redis, log: silentLog });
await Promise.all(set.workers.map((w) => w.waitUntilReady()));
process.stdout.write('ready\n');
await untilStopSignal();
await set.close();
await redis.quit();
process.stdout.write('stopped\n');
