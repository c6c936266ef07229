/** `mailjobs config check`: validate the config, print it resolved with secrets masked. */
import { stringify } from 'yaml';
import { configPath, loadConfig } from '../config/load.js';
import { displayUrl } from '../core/redis-settings.js';
import { desiredSchedules } from '../scheduler/desired.js';
import type { CliArgs, CliDeps } from './io.js';

export async function configCheck(args: CliArgs, deps: CliDeps): Promise<number> {
  const file = configPath(args.config);
  const config = loadConfig(file);
  desiredSchedules(deps.jobs, config);
  deps.out(`# ${file}: OK (secrets masked)`);
  // A password may sit in redis.url (REDIS_URL): masked like the Secret fields.
  const { url } = config.redis;
  const shown = { ...config, redis: { ...config.redis, ...(url ? { url: displayUrl(url) } : {}) } };
  deps.out(stringify(JSON.parse(JSON.stringify(shown))));
  return 0;
}
