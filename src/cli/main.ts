/**
 * The `mailjobs` command line: one explicit table of commands, no silent default. Each entry
 * carries its usage, options and an example (`mailjobs <command> --help` prints them) and imports
 * its module only when it runs; only the job definitions a command needs are loaded (`run
 * imapsync` loads imapsync's, `seal` and `--help` none): start-up is most of a short run's time.
 *
 * To add a command, add one entry to `commands` (a two-word key such as `alerts test` is a
 * sub-command): its usage, summary, example, the `OPTIONS` it takes (a new one goes there with
 * its help line, and into `CliArgs` in io.ts and `parseCli`), and a handler that imports its
 * module. A handler throws `UsageError` for a bad argument (main adds the usage, exit 2); one
 * that needs Redis opens it with `openRuntime`, which gives exit 3 when Redis is unreachable.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PermanentJobError } from '../core/errors.js';
import { type CliArgs, type CliDeps, type CliInput, EXIT_USAGE, UsageError } from './io.js';

/** Every option any command takes, with its one-line help; each command lists those it accepts. */
const OPTIONS = {
  config: {
    type: 'string',
    short: 'c',
    help: '--config FILE   the config (else $MAILJOBS_CONFIG, else ./mailjobs.yaml)',
  },
  wait: {
    type: 'boolean',
    help: '--wait          wait for the job to finish, print its result, exit as `run` does',
  },
  json: { type: 'boolean', help: '--json          machine-readable JSON on stdout' },
  timeout: { type: 'string', help: '--timeout SECS  with --wait: give up after this long (default 3600)' },
  class: { type: 'string', help: '--class spam|ham  what the message is' },
  user: { type: 'string', help: '--user USER     the mailbox user (learn) or remote login (seal)' },
  role: { type: 'string', help: '--role viewer|admin  (default viewer)' },
  host: { type: 'string', help: '--host H        the remote IMAP host the secret is for' },
  port: { type: 'string', help: '--port P        its port' },
  field: { type: 'string', help: '--field password|admin.password  (default password)' },
  users: { type: 'string', help: '--users A,B      these users only (comma-separated)' },
  max: { type: 'string', help: '--max N         at most N new learns of each class (default 1000)' },
  'dry-run': { type: 'boolean', help: '--dry-run       count what would be done, change nothing' },
  search: {
    type: 'string',
    help: '--search TEXT   only messages whose sender, recipients or subject contain TEXT',
  },
  'learn-ham': { type: 'boolean', help: '--learn-ham     also teach Rspamd the message as ham' },
  sync: { type: 'boolean', help: '--sync          the imapsync fleet: every task, its progress, the totals' },
  filter: {
    type: 'string',
    help: '--filter F      with --sync: all, failed, running, not-started or done (default all)',
  },
  failed: { type: 'boolean', help: '--failed        retry the failed (and cancelled) tasks only' },
  'refresh-token-file': {
    type: 'string',
    help: '--refresh-token-file FILE  import this refresh token instead of a device login',
  },
} as const;
type OptionName = keyof typeof OPTIONS;

/** One command: what `--help` prints about it, the job definitions it loads, and its handler. */
interface Command {
  /** The words after `mailjobs` (without --config, which every command takes). */
  usage: string;
  summary: string;
  /** The options it accepts besides --config and --help. */
  options: readonly OptionName[];
  example: string;
  /** Job definitions it needs: none, the one named by the argument after it, or all. */
  jobs: 'none' | 'named' | 'all';
  run(args: CliArgs, deps: CliDeps): Promise<number> | number;
}

const serve = (role: 'start' | 'worker' | 'scheduler') => async (a: CliArgs, d: CliDeps) =>
  (await import('./serve.js')).serve(role, a, d);

/** Every command; a key of two words is a sub-command (`config check`), matched first. */
const commands: Record<string, Command> = {
  start: {
    usage: 'start',
    summary: 'scheduler + workers (+ dashboard) in one process',
    options: [],
    example: 'mailjobs start --config /etc/mailjobs/mailjobs.yaml',
    jobs: 'all',
    run: serve('start'),
  },
  worker: {
    usage: 'worker',
    summary: 'workers only (scale out: run several, sharing one Redis)',
    options: [],
    example: 'mailjobs worker',
    jobs: 'all',
    run: serve('worker'),
  },
  scheduler: {
    usage: 'scheduler',
    summary: 'reconcile schedules from the config; again on SIGHUP',
    options: [],
    example: 'mailjobs scheduler',
    jobs: 'all',
    run: serve('scheduler'),
  },
  // Loaded on demand: Fastify and Bull Board would slow every other command's start-up.
  dashboard: {
    usage: 'dashboard',
    summary: 'the web dashboard alone (Bull Board + admin pages; address: dashboard.bind/port in the config)',
    options: [],
    example: 'mailjobs dashboard',
    jobs: 'all',
    run: async (a, d) => (await import('./dashboard.js')).dashboardCommand(a, d),
  },
  'dashboard add-user': {
    usage: 'dashboard add-user NAME [--role viewer|admin] < password',
    summary:
      'write a dashboard user into the config (password read on stdin; NAME: letters, digits, _ . @ -)',
    options: ['role'],
    example: 'mailjobs dashboard add-user alice --role admin',
    jobs: 'none',
    run: async (a, d) => (await import('./dashboard-user.js')).addUserCommand(a, d),
  },
  enqueue: {
    usage: 'enqueue <job> <json> [--wait [--timeout SECS]] [--json]',
    summary:
      'validate and queue a job, print "<status> <id>" (exit 2: invalid, or its account/task is not in the config)',
    options: ['wait', 'json', 'timeout'],
    example: `mailjobs enqueue getmail '{"account":"john@example.com"}'`,
    jobs: 'named',
    run: async (a, d) => (await import('./jobs.js')).enqueueCommand(a, d),
  },
  'enqueue learn': {
    usage: 'enqueue learn --class spam|ham --user USER < message',
    summary: 'queue the message on stdin to teach Bayes (always exits 0; spooled while Redis is away)',
    options: ['class', 'user'],
    example: 'mailjobs enqueue learn --class spam --user john < message.eml',
    jobs: 'none',
    run: async (a, d) => (await import('./learn.js')).learnCommand(a, d),
  },
  run: {
    usage: 'run <job> <json>',
    summary: 'run one job in the foreground, print its result (exit 0 done, 1 failed, 75 busy)',
    options: [],
    example: `mailjobs run freshclam '{}'`,
    jobs: 'named',
    run: async (a, d) => (await import('./jobs.js')).runCommand(a, d),
  },
  status: {
    usage: 'status [job...] [--json] [--sync [--filter F]]',
    summary:
      "each target's runs, queue counts, failed jobs, schedules (exit 0 ok, 1 warning, 2 critical, 3 unknown: a Nagios plugin)",
    options: ['json', 'sync', 'filter'],
    example: 'mailjobs status getmail imapsync',
    jobs: 'all',
    run: async (a, d) => (await import('./status.js')).statusCommand(a, d),
  },
  seal: {
    usage: 'seal --host H --port P --user U [--field password|admin.password] < secret',
    summary:
      'print the secret read on stdin (one line) sealed with secrets.keyFile for that login only (ad-hoc imapsync)',
    options: ['host', 'port', 'user', 'field'],
    example: 'mailjobs seal --host imap.example.com --port 993 --user john < password.txt',
    jobs: 'none',
    run: async (a, d) => (await import('./seal.js')).sealCommand(a, d),
  },
  'sync import': {
    usage: 'sync import FILE [--dry-run] [--json]',
    summary:
      'create imapsync tasks from a CSV file (one error per bad line, then nothing is created); passwords sealed at once',
    options: ['dry-run', 'json'],
    example: 'mailjobs sync import accounts.csv --dry-run',
    jobs: 'all',
    run: async (a, d) => (await import('./sync.js')).syncImportCommand(a, d),
  },
  'sync start': {
    usage: 'sync start [TARGET...] [--failed] [--json]',
    summary: 'queue these imapsync tasks (default: every task not running); --failed: the failed ones only',
    options: ['failed', 'json'],
    example: 'mailjobs sync start --failed',
    jobs: 'all',
    run: async (a, d) => (await import('./sync.js')).syncBulkCommand(a, d),
  },
  'sync cancel': {
    usage: 'sync cancel [TARGET...] [--json]',
    summary: 'cancel these imapsync tasks (default: every running or queued one)',
    options: ['json'],
    example: 'mailjobs sync cancel',
    jobs: 'all',
    run: async (a, d) => (await import('./sync.js')).syncBulkCommand(a, d),
  },
  'sync remove': {
    usage: 'sync remove TARGET...',
    summary: 'forget imported imapsync tasks (their sync state expires on its own)',
    options: [],
    example: "mailjobs sync remove 'adhoc:john<john@imap.example.com'",
    jobs: 'none',
    run: async (a, d) => (await import('./sync.js')).syncRemoveCommand(a, d),
  },
  'oauth login': {
    usage: 'oauth login <connector|task>',
    summary:
      'OAuth2 device login (prints a URL and a code, waits for approval), or import a refresh token; stored sealed in Redis for that account',
    options: ['refresh-token-file'],
    example: 'mailjobs oauth login john-m365',
    jobs: 'none',
    run: async (a, d) => (await import('./oauth.js')).oauthCommand(a, d),
  },
  'bayes bootstrap': {
    usage: 'bayes bootstrap [--users A,B] [--max N] [--dry-run] [--json] [--timeout SECS]',
    summary:
      "teach Bayes the trainers' Junk (spam) and old read INBOX mail (ham), waiting and printing progress; counts spam and ham apart",
    options: ['users', 'max', 'dry-run', 'json', 'timeout'],
    example: 'mailjobs bayes bootstrap --users john,jane --max 500 --dry-run',
    jobs: 'none',
    run: async (a, d) => (await import('./bayes.js')).bootstrapCommand(a, d),
  },
  'alerts test': {
    usage: 'alerts test',
    summary: 'send one test alert to alerts.to the way alerts go (exit 0 handed to Postfix, 1 not)',
    options: [],
    example: 'mailjobs alerts test --config /etc/mailjobs/mailjobs.yaml',
    jobs: 'none',
    run: async (a, d) => (await import('./alerts.js')).alertsCommand(a, d),
  },
  'quarantine list': {
    usage: 'quarantine list [--search TEXT] [--json]',
    summary: 'the quarantined messages, newest first: id, date, score, sender, recipients, subject',
    options: ['search', 'json'],
    example: 'mailjobs quarantine list --search example.com',
    jobs: 'none',
    run: async (a, d) => (await import('./quarantine.js')).listCommand(a, d),
  },
  'quarantine release': {
    usage: 'quarantine release ID [--learn-ham]',
    summary:
      'deliver a quarantined message to its original recipients (each once), then remove it (exit 1: refused, with the reason)',
    options: ['learn-ham'],
    example: 'mailjobs quarantine release 1733390000-42 --learn-ham',
    jobs: 'none',
    run: async (a, d) => (await import('./quarantine.js')).releaseCommand(a, d),
  },
  'quarantine delete': {
    usage: 'quarantine delete ID',
    summary: 'expunge a quarantined message from the quarantine mailbox and its index',
    options: [],
    example: 'mailjobs quarantine delete 1733390000-42',
    jobs: 'none',
    run: async (a, d) => (await import('./quarantine.js')).deleteCommand(a, d),
  },
  'config check': {
    usage: 'config check',
    summary: 'validate the config, print it resolved with secrets masked',
    options: [],
    example: 'mailjobs config check --config /etc/mailjobs/mailjobs.yaml',
    jobs: 'all', // schedules: names every job's
    run: async (a, d) => (await import('./config-check.js')).configCheck(a, d),
  },
};

/** Every command's name (`config check`: two words), in the overview's order. */
export const commandNames = (): string[] => Object.keys(commands);

/** `mailjobs --version`: the package's version. */
export function version(): string {
  // src/cli/ and dist/cli/ are both two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** The overview: every command's usage and summary, generated from the table. */
export function overview(): string {
  const lines = Object.values(commands).map((c) => `  ${c.usage}\n      ${c.summary}`);
  return [
    'usage: mailjobs <command> [options] [--config FILE]     mailjobs <command> --help: its options and an example',
    ...lines,
    '  --version   print the version',
    'config: --config FILE, else $MAILJOBS_CONFIG, else ./mailjobs.yaml; REDIS_URL overrides redis.url',
    'exit codes: 0 ok, 1 failed, 2 bad command line or config, 3 Redis unreachable, 75 target busy (try later)',
  ].join('\n');
}

/** One command's usage, options and example (`mailjobs <command> --help`). */
export function commandHelp(name: string): string {
  const c = commands[name]!;
  return [
    `usage: mailjobs ${c.usage} [--config FILE]`,
    `  ${c.summary}`,
    'options:',
    ...[...c.options, 'config' as const].map((o) => `  ${OPTIONS[o].help}`),
    'example:',
    `  ${c.example}`,
  ].join('\n');
}

/** The words of a command line, without options: option values (--config FILE) are not words. */
function wordsOf(argv: string[]): string[] {
  const options = Object.fromEntries(Object.entries(OPTIONS).map(([k, o]) => [k, { type: o.type }]));
  return parseArgs({ args: argv, allowPositionals: true, strict: false, options }).positionals;
}

/** The command a command line names: a two-word sub-command first, then one word. */
function findCommand(argv: string[]): string | undefined {
  const words = wordsOf(argv);
  const two = words.slice(0, 2).join(' ');
  if (commands[two]) return two;
  return commands[words[0] ?? ''] ? words[0] : undefined;
}

/** node:util's parseArgs with the command's options only: anything else is a usage error. */
function parseFor(argv: string[], accepted: readonly OptionName[]) {
  const options = Object.fromEntries(
    [...accepted, 'config' as const].map((o) => {
      const { help: _help, ...spec } = OPTIONS[o];
      return [o, spec];
    }),
  );
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { ...options, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } },
    });
  } catch (err) {
    // Node's message ends with advice about `--` that fits no mailjobs command.
    throw new UsageError((err as Error).message.split('. To specify a positional')[0]!);
  }
}

export function parseCli(argv: string[], accepted: readonly OptionName[]): CliArgs {
  const { values, positionals } = parseFor(argv, accepted);
  const v = values as Record<string, string | boolean | undefined>;
  const text = (name: OptionName) => v[name] as string | undefined;
  const timeout = text('timeout') ?? '3600';
  if (!/^\d+$/.test(timeout) || Number(timeout) < 1)
    throw new UsageError('--timeout must be a whole number of seconds');
  return {
    positionals,
    config: text('config'),
    wait: v.wait === true,
    json: v.json === true,
    timeoutSeconds: Number(timeout),
    class: text('class'),
    user: text('user'),
    role: text('role'),
    host: text('host'),
    port: text('port'),
    field: text('field'),
    refreshTokenFile: text('refresh-token-file'),
    users: text('users'),
    max: text('max'),
    dryRun: v['dry-run'] === true,
    search: text('search'),
    learnHam: v['learn-ham'] === true,
    sync: v.sync === true,
    filter: text('filter'),
    failed: v.failed === true,
  };
}

/**
 * Runs one command; returns the exit code. A usage error prints one line and the command's
 * usage (exit 2); other errors propagate to the entry point, which maps them to exit codes.
 */
export async function main(argv: string[], input: CliInput): Promise<number> {
  const name = findCommand(argv);
  const usageError = (message: string, help: string) => {
    input.err(`mailjobs${name ? ` ${name}` : ''}: ${message}`);
    input.err(help);
    return EXIT_USAGE;
  };
  if (!name) {
    if (argv.includes('--version')) {
      input.out(version());
      return 0;
    }
    if (argv.length === 0 || argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') {
      input.out(overview());
      return argv.length === 0 ? EXIT_USAGE : 0;
    }
    const first = wordsOf(argv)[0];
    const subs = Object.keys(commands).filter((k) => first && k.startsWith(`${first} `));
    if (subs.length > 0)
      return usageError(`"${first}" needs one of: ${subs.join(', ')}`, subs.map(commandHelp).join('\n'));
    return usageError(first ? `unknown command "${first}"` : `unknown option ${argv[0]}`, overview());
  }
  const command = commands[name]!;
  try {
    const args = parseCli(argv, command.options);
    if (argv.includes('--help') || argv.includes('-h')) {
      input.out(commandHelp(name));
      return 0;
    }
    if (argv.includes('--version')) throw new UsageError('--version takes no command');
    let jobs: CliDeps['jobs'] = [];
    const named = args.positionals[1];
    if (command.jobs === 'all' || (command.jobs === 'named' && named !== undefined)) {
      const { loadJobs } = await import('../jobs/catalog.js');
      const sources = typeof input.jobs === 'function' ? await input.jobs() : input.jobs;
      jobs = await loadJobs(sources, command.jobs === 'named' ? [named!] : undefined).catch(
        (err: unknown) => {
          // An unknown job name is a mistake on the command line.
          throw err instanceof PermanentJobError ? new UsageError(err.message) : err;
        },
      );
    }
    return await command.run(args, { ...input, jobs });
  } catch (err) {
    if (err instanceof UsageError) return usageError(err.message, commandHelp(name));
    throw err;
  }
}
