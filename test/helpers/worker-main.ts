/**
 * A worker process for tests: the real startWorkers + signal handling of `mailjobs worker`,
 * with the test-only echo job. argv: <config file> [crunch] (crunch: the CPU-heavy test job too).
 * Prints "ready" once workers run.
 */
import { loadConfig } from '../../src/config/load.js';
import { connectRedis, resolveRedis } from '../../src/core/redis.js';
import { untilStopSignal } from '../../src/cli/serve.js';
import { silentLog, startTestWorkers } from './runtime.js';
import { crunchJob, testJobs } from './test-jobs.js';

const config = loadConfig(process.argv[2]!, {});
const redisSettings = await resolveRedis(config.redis, silentLog, { startPrivate: false });
const redis = connectRedis(redisSettings);
const jobs = process.argv[3] === 'crunch' ? [...testJobs, crunchJob] : testJobs;
const set = startTestWorkers({ config, redisSettings, redis }, jobs);
await Promise.all(set.workers.map((w) => w.waitUntilReady()));
process.stdout.write('ready\n');
await untilStopSignal();
await set.close();
await redis.quit();
process.stdout.write('stopped\n');
