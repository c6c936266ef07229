/**
 * The `mailjobs` command line: one explicit map of commands, no silent default.
 */
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { configPath, loadConfig } from '../config/load.js';
import { desiredSchedules } from '../scheduler/desired.js';
import type { CliArgs, CliDeps } from './io.js';
import { enqueueCommand, runCommand, UsageError } from './jobs.js';
import { learnCommand } from './learn.js';
import { sealCommand } from './seal.js';
import { serve } from './serve.js';
import { statusCommand } from './status.js';

export const USAGE = `usage: mailjobs <command> [--config FILE]
  start                     scheduler + workers (+ dashboard) in one process
  worker                    workers only (scale out: run several, sharing one Redis)
  scheduler                 reconcile schedules from the config; again on SIGHUP
  dashboard                 the web dashboard alone (Bull Board + admin pages; dashboard.bind/port)
  dashboard add-user NAME [--role viewer|admin]
                            write a dashboard user into the config (password read on stdin)
  enqueue <job> <json>      queue a job, print its id  [--wait: wait, print the result] [--json]
  enqueue learn --class spam|ham --user USER < message
                            queue the message on stdin to teach Bayes (always exits 0)
  run <job> <json>          run one job in the foreground, print the result (exit 1 on failure)
  status                    queue counts, failed jobs, schedules  [--json]
  seal                      print the secret read on stdin sealed with secrets.keyFile (ad-hoc imapsync)
  config check              validate the config, print it resolved with secrets masked
config: --config FILE, else $MAILJOBS_CONFIG, else ./mailjobs.yaml; REDIS_URL overrides redis.url`;

function configCheck(args: CliArgs, deps: CliDeps): number {
  const file = configPath(args.config);
  const config = loadConfig(file);
  desiredSchedules(deps.jobs, config);
  deps.out(`# ${file}: OK (secrets masked)`);
  deps.out(stringify(JSON.parse(JSON.stringify(config))));
  return 0;
}

const commands: Record<string, (args: CliArgs, deps: CliDeps) => Promise<number> | number> = {
  start: (a, d) => serve('start', a, d),
  worker: (a, d) => serve('worker', a, d),
  scheduler: (a, d) => serve('scheduler', a, d),
  // Loaded on demand: Fastify and Bull Board would slow every other command's start-up.
  dashboard: async (a, d) => (await import('./dashboard.js')).dashboardCommand(a, d),
  enqueue: (a, d) => (a.positionals[1] === 'learn' ? learnCommand(a, d) : enqueueCommand(a, d)),
  run: runCommand,
  status: statusCommand,
  seal: sealCommand,
  config: (a, d) => {
    if (a.positionals[1] !== 'check') throw new UsageError('usage: mailjobs config check [--config FILE]');
    return configCheck(a, d);
  },
};

export function parseCli(argv: string[]): CliArgs {
  const { values, positionals } = parseArgs({
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
    },
  });
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
  };
}

/** Runs one command; returns the exit code. Errors other than usage errors propagate. */
export async function main(argv: string[], deps: CliDeps): Promise<number> {
  const args = parseCli(argv);
  const name = args.positionals[0];
  if (!name || name === 'help') {
    deps.out(USAGE);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) throw new UsageError(`unknown command "${name}"\n${USAGE}`);
  return command(args, deps);
}
