/**
 * `mailjobs seal`: reads a secret on stdin (one line) and prints it sealed with the config's
 * `secrets.keyFile` (created on first use), for the password fields of an ad-hoc imapsync
 * payload. The secret is never an argument, so it stays out of `ps` and shell history.
 */
import { configPath, loadConfig } from '../config/load.js';
import { SecretBox } from '../core/crypto.js';
import type { CliArgs, CliDeps } from './io.js';
import { UsageError } from './io.js';

async function readStdin(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** `mailjobs seal`: the secret on stdin, sealed, on stdout. */
export async function sealCommand(
  args: CliArgs,
  deps: CliDeps,
  input: NodeJS.ReadableStream = process.stdin,
): Promise<number> {
  const config = loadConfig(configPath(args.config));
  const secret = await readStdin(input);
  if (secret === '') throw new UsageError('usage: mailjobs seal < secret   (the secret on stdin, one line)');
  deps.out(await new SecretBox(config.secrets.keyFile).seal(secret));
  return 0;
}
