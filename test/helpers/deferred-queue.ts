/** The Queue tests' starting point: a Postfix whose relay does not answer, with mail deferred in it. */
import { startPostfix, type PostfixFixture } from '../fixtures/postfix.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { freshPrefix, writeConfig } from './runtime.js';

export interface DeferredQueue {
  redisFx: RedisFixture;
  postfix: PostfixFixture;
  /** A config file for the private Redis (a fresh prefix) and this Postfix. */
  configFile: string;
}

/**
 * Starts a private Redis and Postfix and queues three messages (`sender<n>@example.org` to
 * `rcpt<n>@example.net`, n = 1 to 3); resolves once all three are in the deferred queue.
 */
export async function startDeferredQueue(): Promise<DeferredQueue> {
  const [redisFx, postfix] = await Promise.all([startRedis(), startPostfix()]);
  const configFile = writeConfig(
    redisFx.url,
    freshPrefix(),
    `postfix: { configDir: ${postfix.configDir}, commandDirectory: ${postfix.commandDirectory} }\n`,
  );
  for (const n of [1, 2, 3]) {
    await postfix.sendmail(
      `sender${n}@example.org`,
      `rcpt${n}@example.net`,
      `Subject: queued ${n}\n\nhello ${n}\n`,
    );
  }
  await postfix.waitForQueue((q) => q.length === 3 && q.every((m) => m.queue_name === 'deferred'));
  return { redisFx, postfix, configFile };
}
