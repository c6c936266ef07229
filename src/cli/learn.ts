/**
 * `mailjobs enqueue learn --class spam|ham --user USER < message`: what `mailjobs-learn` does,
 * from the main command. The message is spooled, then the spool is queued right here (this
 * process has paid for BullMQ already) instead of by a detached flusher. Like the pipe, it
 * exits 0 whatever happens to the message, and says what happened on stdout.
 */
import type { RedisClient } from '../core/redis.js';
import { flushSpool, queueSpooled } from '../jobs/bayes-learn/flush.js';
import { learnFromPipe } from '../jobs/bayes-learn/pipe.js';
import { connectPipeRedis } from '../jobs/bayes-learn/pipe-redis.js';
import { pipeConfigPath, type PipeSettings } from '../jobs/bayes-learn/pipe-settings.js';
import type { SpooledLearn } from '../jobs/bayes-learn/spool.js';
import type { CliArgs, CliDeps } from './io.js';

async function withRedis<T>(settings: PipeSettings, use: (redis: RedisClient) => Promise<T>): Promise<T> {
  const redis = connectPipeRedis(settings);
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

export async function learnCommand(args: CliArgs, deps: CliDeps): Promise<number> {
  const configFile = pipeConfigPath(args.config, process.env);
  let flushed = '';
  const outcome = await learnFromPipe(
    { class: args.class, user: args.user, configFile },
    {
      stdin: process.stdin,
      env: process.env,
      stderr: deps.err,
      afterSpool: (settings) =>
        withRedis(settings, async (redis) => {
          const warn = deps.err;
          const r = await flushSpool(settings.spoolDir, {
            redis,
            prefix: settings.prefix,
            maxMessageBytes: settings.maxMessageBytes,
            warn,
          });
          flushed = r.error
            ? ` (left in ${settings.spoolDir}: ${r.error})`
            : r.busy
              ? ' (a flusher is queueing it)'
              : ' and queued';
        }),
      queueDirect: (settings, entry: SpooledLearn) =>
        withRedis(settings, (redis) => queueSpooled(entry, { redis, prefix: settings.prefix })),
    },
  );
  deps.out(`${outcome}${outcome === 'spooled' ? flushed : ''}`);
  return 0;
}
