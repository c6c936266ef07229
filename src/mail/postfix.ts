/**
 * Postfix's queue, through its own admin commands: `postqueue -j` (one JSON object per queued
 * message, streamed), `postqueue -f` / `-i QID` (deliver now), `postsuper -d QID|ALL` (delete).
 * Every command is an argument array given to `spawn`, never a shell line, and every queue id
 * is checked against Postfix's format before anything runs, so a payload cannot smuggle in an
 * option (`-d -`) or a second command.
 *
 * Errors: {@link ProtocolError} with `EPOSTFIX` (the command failed: its stderr is the message),
 * `ETIMEOUT`, or `EPROTOCOL` (a line of `postqueue -j` that is not the JSON we expect);
 * {@link PermanentJobError} `EQUEUEID` for a malformed queue id, `ENOPOSTFIX` when the command
 * is not installed.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PermanentJobError, ProtocolError } from '../core/errors.js';
import { assertQueueId } from './postfix-queue-id.js';

export { assertQueueId, isQueueId, QUEUE_ID_PATTERN } from './postfix-queue-id.js';

/** The queues `postqueue -j` reports (`queue_name`). */
export const POSTFIX_QUEUES = ['maildrop', 'incoming', 'active', 'deferred', 'hold'] as const;
export type PostfixQueueName = (typeof POSTFIX_QUEUES)[number];

/** One queued message, as `postqueue -j` describes it (Postfix ≥ 3.1). */
export interface QueuedMessage {
  queueId: string;
  queue: PostfixQueueName;
  /** Arrival time, ms since the epoch. */
  arrivalTime: number;
  /** Bytes (the queue file's message content). */
  size: number;
  /** Empty for the null sender (bounces). */
  sender: string;
  recipients: { address: string; delayReason?: string }[];
  /** Marked by `postsuper -e` / `-f` to expire on its next delivery attempt (Postfix ≥ 3.5). */
  forcedExpire: boolean;
}

/** Where Postfix is: its config folder (`-c`) and where its commands are installed. */
export interface PostfixTarget {
  configDir: string;
  commandDirectory: string;
}

export interface PostfixCallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 60_000;
/** stderr kept for error messages: Postfix's fatal line is short. */
const MAX_STDERR = 8 * 1024;

/** Parses one line of `postqueue -j`; throws `EPROTOCOL` when it is not a queue record. */
export function parseQueueRecord(line: string): QueuedMessage {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new ProtocolError(`postqueue -j: not JSON: ${line.slice(0, 120)}`, 'EPROTOCOL');
  }
  const queue = o.queue_name as PostfixQueueName;
  if (typeof o.queue_id !== 'string' || !POSTFIX_QUEUES.includes(queue)) {
    throw new ProtocolError(`postqueue -j: unexpected record: ${line.slice(0, 120)}`, 'EPROTOCOL');
  }
  const recipients = Array.isArray(o.recipients) ? (o.recipients as Record<string, unknown>[]) : [];
  return {
    queueId: o.queue_id,
    queue,
    arrivalTime: Number(o.arrival_time ?? 0) * 1000,
    size: Number(o.message_size ?? 0),
    sender: typeof o.sender === 'string' ? o.sender : '',
    recipients: recipients.map((r) => ({
      address: String(r.address ?? ''),
      ...(typeof r.delay_reason === 'string' ? { delayReason: r.delay_reason } : {}),
    })),
    forcedExpire: o.forced_expire === true,
  };
}

/** Spawns a Postfix command; `onLine` gets stdout line by line. Resolves with its stderr. */
async function runPostfix(
  target: PostfixTarget,
  command: 'postqueue' | 'postsuper',
  args: readonly string[],
  opts: PostfixCallOptions,
  onLine?: (line: string) => void,
): Promise<string> {
  opts.signal?.throwIfAborted();
  const binary = path.join(target.commandDirectory, command);
  const argv = ['-c', target.configDir, ...args];
  const what = `${command} ${argv.join(' ')}`;
  const child = spawn(binary, argv, { stdio: ['ignore', 'pipe', 'pipe'], signal: opts.signal });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-MAX_STDERR)));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGTERM');
  }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  exited.catch(() => undefined); // awaited below; this only keeps an early spawn error from going unhandled
  try {
    let parseError: unknown;
    if (onLine) {
      // readline holds one line at a time: the queue is never all in memory.
      for await (const line of createInterface({ input: child.stdout, crlfDelay: Infinity })) {
        if (line.length === 0 || parseError) continue;
        try {
          onLine(line);
        } catch (err) {
          parseError = err; // keep draining so the child can exit, then report
        }
      }
    } else child.stdout.resume();
    const code = await exited;
    if (parseError) throw parseError;
    if (timedOut) throw new ProtocolError(`${what}: no answer within ${opts.timeoutMs} ms`, 'ETIMEOUT');
    if (code !== 0) {
      const reason = stderr.trim().split('\n').filter(Boolean).pop() ?? `exit code ${code}`;
      throw new ProtocolError(`${what} failed: ${reason}`, 'EPOSTFIX');
    }
    return stderr;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new PermanentJobError(`${binary} not found (postfix.commandDirectory)`, 'ENOPOSTFIX');
    }
    if ((err as Error).name === 'AbortError') throw opts.signal?.reason ?? err;
    throw err;
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null) child.kill('SIGTERM');
  }
}

/**
 * Calls `onMessage` for each queued message, streaming `postqueue -j`. Postfix notes that the
 * queue changes while it is listed: a message may be missed or reported twice.
 */
export async function forEachQueued(
  target: PostfixTarget,
  onMessage: (m: QueuedMessage) => void,
  opts: PostfixCallOptions = {},
): Promise<void> {
  await runPostfix(target, 'postqueue', ['-j'], opts, (line) => onMessage(parseQueueRecord(line)));
}

/** Asks the queue manager to deliver every queued message now (`postqueue -f`). */
export async function flushQueue(target: PostfixTarget, opts: PostfixCallOptions = {}): Promise<void> {
  await runPostfix(target, 'postqueue', ['-f'], opts);
}

/** Schedules immediate delivery of one deferred message (`postqueue -i QID`). */
export async function flushMessage(
  target: PostfixTarget,
  queueId: string,
  opts: PostfixCallOptions = {},
): Promise<void> {
  assertQueueId(queueId);
  await runPostfix(target, 'postqueue', ['-i', queueId], opts);
}

/** Deletes one message, or every message with `ALL` (`postsuper -d`); resolves with how many went. */
export async function deleteQueued(
  target: PostfixTarget,
  queueId: string | 'ALL',
  opts: PostfixCallOptions = {},
): Promise<number> {
  if (queueId !== 'ALL') assertQueueId(queueId);
  const stderr = await runPostfix(target, 'postsuper', ['-d', queueId], opts);
  // postsuper reports on stderr: "postsuper: Deleted: 3 messages"
  const m = /Deleted: (\d+) messages?/.exec(stderr);
  if (!m) throw new ProtocolError(`postsuper -d ${queueId}: no "Deleted:" line in ${stderr}`, 'EPROTOCOL');
  return Number(m[1]);
}
