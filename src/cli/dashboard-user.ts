/**
 * `mailjobs dashboard add-user NAME [--role admin|viewer]`: reads the password on stdin (no
 * echo on a terminal; a pipe works for scripts), hashes it with scrypt and writes the user into
 * the config file's `dashboard.users`, keeping the file's comments and layout (yaml Document).
 */
import { chmodSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { isMap, isSeq, parseDocument, type YAMLMap, type YAMLSeq } from 'yaml';
import { configPath, parseConfig } from '../config/load.js';
import { hashPassword } from '../dashboard/password.js';
import type { CliArgs, CliDeps } from './io.js';
import { UsageError } from './io.js';

const NAME = /^[A-Za-z0-9_.@-]{1,64}$/;

/** Reads one line from stdin; on a terminal, prompts on stderr and does not echo. */
async function readPassword(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  }
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new UsageError('cancelled'));
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else text += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** Sets user `name` in the YAML text's `dashboard.users` (replacing one of that name); returns the new text. */
export function setUserInYaml(
  text: string,
  user: { name: string; role: string; passwordHash: string },
): string {
  const doc = parseDocument(text);
  if (!isMap(doc.contents)) throw new UsageError('the config file is not a YAML mapping');
  let dashboard = doc.get('dashboard') as YAMLMap | undefined;
  if (!isMap(dashboard)) {
    doc.set('dashboard', doc.createNode({ users: [] }));
    dashboard = doc.get('dashboard') as YAMLMap;
  }
  let users = dashboard.get('users');
  if (!isSeq(users)) {
    dashboard.set('users', doc.createNode([]));
    users = dashboard.get('users');
  }
  const seq = users as YAMLSeq;
  seq.flow = false;
  const node = doc.createNode(user);
  const at = seq.items.findIndex((i) => isMap(i) && i.get('name') === user.name);
  if (at >= 0) seq.items[at] = node;
  else seq.items.push(node);
  return doc.toString();
}

/**
 * Replaces the config file by `text` atomically. It holds password hashes (offline guessing
 * targets), so others lose every permission: a file others could read becomes 0600, a
 * stricter one (0600, or 0640 to the service's group) keeps its mode.
 */
export function writeConfigFile(file: string, text: string): void {
  const before = statSync(file).mode & 0o777;
  const mode = before & 0o007 ? 0o600 : before;
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode); // whatever the umask
  renameSync(tmp, file);
}

export async function addUserCommand(args: CliArgs, deps: CliDeps): Promise<number> {
  const name = args.positionals[2];
  const role = args.role ?? 'viewer';
  if (!name) throw new UsageError('a user NAME is required');
  if (!NAME.test(name)) throw new UsageError(`NAME "${name}": letters, digits, _ . @ - only, up to 64`);
  if (role !== 'admin' && role !== 'viewer') throw new UsageError('--role must be viewer or admin');
  const file = configPath(args.config);
  const before = readFileSync(file, 'utf8');
  const password = await readPassword(`password for ${name}: `);
  if (password.length < 10) {
    deps.err('mailjobs: the password must have at least 10 characters');
    return 1;
  }
  const passwordHash = await hashPassword(password);
  const after = setUserInYaml(before, { name, role, passwordHash });
  parseConfig(after, file); // never write a file that would not load
  writeConfigFile(file, after);
  deps.out(
    `${name} (${role}) written to ${file}. A running mailjobs picks it up on SIGHUP (e.g. systemctl reload mailjobs, or kill -HUP <pid>) or on restart.`,
  );
  return 0;
}
