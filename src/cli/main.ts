/**
 * The `mailjobs` command line: one explicit map of commands, no silent default. Each command's
 * module is imported when it runs, and only the job definitions it needs are loaded (`run
 * imapsync` loads imapsync's, `seal` and `--help` none): start-up is most of a short run's time.
 */
import { parseArgs } from 'node:util';
import { type CliArgs, type CliDeps, type CliInput, UsageError } from './io.js';

export const USAGE = `usage: mailjobs <command> [--config FILE]
  start                     scheduler + workers (+ dashboard) in one process
  worker                    workers only (scale out: run several, sharing one Redis)
  scheduler                 reconcile schedules from the config; again on SIGHUP
  dashboard                 the web dashboard alone (Bull Board + admin pages; dashboard.bind/port)
  dashboard add-user NAME [--role viewer|admin]
                            write a dashboard user into the config (password read on stdin)
  enqueue <job> <json>      queue a job, print its id  [--wait: wait, print the result; exit as run] [--json]
  enqueue learn --class spam|ham --user USER < message
                            queue the message on stdin to teach Bayes (always exits 0)
  run <job> <json>          run one job in the foreground, print the result
                            (exit 0 done, 1 failed, 75 busy: another live job holds the target)
  status                    queue counts, failed jobs, schedules  [--json]
  seal --host H --port P --user U [--field password|admin.password]
                            print the secret read on stdin sealed with secrets.keyFile for that
                            login only (ad-hoc imapsync)
  oauth login <connector|task> [--refresh-token-file FILE]
                            OAuth2 device login (prints a URL and a code), or import a refresh
                            token; stored sealed in Redis for that account
  config check              validate the config, print it resolved with secrets masked
config: --config FILE, else $MAILJOBS_CONFIG, else ./mailjobs.yaml; REDIS_URL overrides redis.url`;

async function configCheck(args: CliArgs, deps: CliDeps): Promise<number> {
  const [{ stringify }, { configPath, loadConfig }, { desiredSchedules }, { displayUrl }] = await Promise.all(
    [
      import('yaml'),
      import('../config/load.js'),
      import('../scheduler/desired.js'),
      import('../core/redis-settings.js'),
    ],
  );
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

const commands: Record<string, (args: CliArgs, deps: CliDeps) => Promise<number> | number> = {
  start: async (a, d) => (await import('./serve.js')).serve('start', a, d),
  worker: async (a, d) => (await import('./serve.js')).serve('worker', a, d),
  scheduler: async (a, d) => (await import('./serve.js')).serve('scheduler', a, d),
  // Loaded on demand: Fastify and Bull Board would slow every other command's start-up.
  dashboard: async (a, d) =>
    a.positionals[1] === 'add-user'
      ? (await import('./dashboard-user.js')).addUserCommand(a, d)
      : (await import('./dashboard.js')).dashboardCommand(a, d),
  enqueue: async (a, d) =>
    a.positionals[1] === 'learn'
      ? (await import('./learn.js')).learnCommand(a, d)
      : (await import('./jobs.js')).enqueueCommand(a, d),
  run: async (a, d) => (await import('./jobs.js')).runCommand(a, d),
  status: async (a, d) => (await import('./status.js')).statusCommand(a, d),
  seal: async (a, d) => (await import('./seal.js')).sealCommand(a, d),
  oauth: async (a, d) => (await import('./oauth.js')).oauthCommand(a, d),
  config: (a, d) => {
    if (a.positionals[1] !== 'check') throw new UsageError('usage: mailjobs config check [--config FILE]');
    return configCheck(a, d);
  },
};

/** node:util's parseArgs; an unknown option or a missing value is a usage error (one line, exit 2). */
function parseOptions(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        wait: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        timeout: { type: 'string', default: '3600' },
        help: { type: 'boolean', short: 'h', default: false },
        class: { type: 'string' },
        user: { type: 'string' },
        role: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        field: { type: 'string' },
        'refresh-token-file': { type: 'string' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function parseCli(argv: string[]): CliArgs {
  const { values, positionals } = parseOptions(argv);
  if (values.help) positionals.unshift('help');
  return {
    positionals,
    config: values.config,
    wait: values.wait ?? false,
    json: values.json ?? false,
    timeoutSeconds: Number(values.timeout),
    class: values.class,
    user: values.user,
    role: values.role,
    host: values.host,
    port: values.port,
    field: values.field,
    refreshTokenFile: values['refresh-token-file'],
  };
}

/**
 * The job definitions `name` needs: none (`seal`, `oauth`, `enqueue learn`, `dashboard add-user`), the one it names (`run`,
 * `enqueue`), or all of them (every other command, including ones added later).
 */
function jobsNeeded(name: string, args: CliArgs): 'none' | 'named' | 'all' {
  const sub = args.positionals[1];
  if (
    name === 'seal' ||
    name === 'oauth' ||
    (name === 'enqueue' && sub === 'learn') ||
    (name === 'dashboard' && sub === 'add-user')
  )
    return 'none';
  return name === 'run' || name === 'enqueue' ? 'named' : 'all';
}

/** Runs one command; returns the exit code. Errors other than usage errors propagate. */
export async function main(argv: string[], input: CliInput): Promise<number> {
  const args = parseCli(argv);
  const name = args.positionals[0];
  if (!name || name === 'help') {
    input.out(USAGE);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) throw new UsageError(`unknown command "${name}"\n${USAGE}`);
  const need = jobsNeeded(name, args);
  const named = args.positionals[1];
  let jobs: CliDeps['jobs'] = [];
  if (need === 'all' || (need === 'named' && named !== undefined)) {
    const { loadJobs } = await import('../jobs/catalog.js');
    const sources = typeof input.jobs === 'function' ? await input.jobs() : input.jobs;
    jobs = await loadJobs(sources, need === 'named' ? [named!] : undefined);
  }
  const deps: CliDeps = { ...input, jobs };
  return command(args, deps);
}
