/**
 * `mailjobs seal --host H --port P --user U [--field password|admin.password]`: reads a secret
 * on stdin (one line) and prints it sealed with the config's `secrets.keyFile` (created on first
 * use) for that one login, for the password fields of an ad-hoc imapsync payload: a worker opens
 * it only for a task with the same host, port and user. The secret is never an argument, so it
 * stays out of `ps` and shell history.
 */
import { hostSyntaxProblem } from '../config/host.js';
import { configPath, loadConfig } from '../config/load.js';
import { type SealPurpose, type SealedField, SecretBox } from '../core/crypto.js';
import type { CliArgs, CliDeps } from './io.js';
import { UsageError } from './io.js';

const FIELDS: readonly SealedField[] = ['password', 'admin.password'];

async function readStdin(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** The purpose named on the command line; a missing or bad option is a one-line usage error. */
function purposeOf(args: CliArgs): SealPurpose {
  const { host, port, user, field = 'password' } = args;
  if (host === undefined || port === undefined || user === undefined) {
    throw new UsageError('--host, --port and --user are required');
  }
  const problem = hostSyntaxProblem(host);
  if (problem) throw new UsageError(`--host ${problem}`);
  const n = Number(port);
  if (!/^\d{1,5}$/.test(port) || n < 1 || n > 65535) throw new UsageError('--port must be 1 to 65535');
  if (user === '') throw new UsageError('--user must not be empty');
  if (!FIELDS.includes(field as SealedField)) {
    throw new UsageError(`--field must be ${FIELDS.join(' or ')}`);
  }
  return { host, port: n, username: user, field: field as SealedField };
}

/** `mailjobs seal`: the secret on stdin, sealed for the login named by the options, on stdout. */
export async function sealCommand(
  args: CliArgs,
  deps: CliDeps,
  input: NodeJS.ReadableStream = process.stdin,
): Promise<number> {
  const purpose = purposeOf(args);
  const config = loadConfig(configPath(args.config));
  const secret = await readStdin(input);
  if (secret === '') throw new UsageError('no secret on stdin (one line)');
  deps.out(await new SecretBox(config.secrets.keyFile).seal(secret, purpose));
  return 0;
}
