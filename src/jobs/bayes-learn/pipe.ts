/**
 * What `mailjobs-learn` (and `mailjobs enqueue learn`) does with one message on stdin: check
 * the request and the size, spool the message, then hand over to a flusher that queues it.
 * Spooling first keeps the caller's wait short (no Redis client to load) and loses nothing when
 * Redis is away. Nothing here throws: every problem becomes one line for the log and an
 * outcome, since the caller always exits 0.
 */
import { appendFileSync } from 'node:fs';
import { readPipeSettings, type PipeSettings } from './pipe-settings.js';
import { spoolMessage, type SpooledLearn } from './spool.js';

/** What happened to the message. */
export type PipeOutcome =
  /** In the spool; the flusher queues it. */
  | 'spooled'
  /** The spool could not be written, but the message was queued directly. */
  | 'queued'
  /** Over `bayesLearn.maxMessageKilobytes`: not learned. */
  | 'too-big'
  /** Bad `--class` or `--user`, or an empty message: not learned. */
  | 'invalid'
  /** Neither spool nor Redis took it (both logged). */
  | 'lost';

export interface PipeRequest {
  class?: string;
  user?: string;
  configFile: string;
}

export interface PipeIo {
  stdin: AsyncIterable<Buffer | string>;
  env: NodeJS.ProcessEnv;
  /** One line to stderr (Dovecot logs a piped program's stderr as an error). */
  stderr(line: string): void;
  /** Queues what is spooled (a detached flusher, or a flush in this process). */
  afterSpool(settings: PipeSettings): Promise<void>;
  /** Queues one message without the spool, when the spool cannot be written. */
  queueDirect(settings: PipeSettings, entry: SpooledLearn): Promise<void>;
}

const USER = /^[^\s\p{Cc}]{1,255}$/u;

/** Reads stdin to the end, keeping at most `limit + 1` bytes (the rest is drained, not stored). */
async function readLimited(stdin: AsyncIterable<Buffer | string>, limit: number) {
  const chunks: Buffer[] = [];
  let kept = 0;
  let size = 0;
  for await (const chunk of stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    // Drained to the end even when too big: Dovecot writes the whole message into the pipe.
    if (kept <= limit) {
      chunks.push(buf);
      kept += buf.length;
    }
  }
  return { message: size > limit ? undefined : Buffer.concat(chunks), size };
}

export async function learnFromPipe(req: PipeRequest, io: PipeIo): Promise<PipeOutcome> {
  const settings = readPipeSettings(req.configFile, io.env);
  const who = `user=${req.user ?? '?'} class=${req.class ?? '?'}`;
  const log = (line: string): void => {
    io.stderr(`mailjobs-learn: ${who}: ${line}`);
    if (!settings.logFile) return;
    try {
      appendFileSync(settings.logFile, `${new Date().toISOString()} ${who}: ${line}\n`);
    } catch {
      // stderr already has it (and Dovecot's log); a log file we cannot write changes nothing
    }
  };
  for (const p of settings.problems) log(p);
  const cls = req.class;
  const valid = (cls === 'spam' || cls === 'ham') && req.user !== undefined && USER.test(req.user);
  const { message, size } = await readLimited(io.stdin, settings.maxMessageBytes);
  if (!valid || size === 0) {
    log(`not learned: ${!valid ? 'needs --class spam|ham and --user NAME (no spaces)' : 'empty message'}`);
    return 'invalid';
  }
  if (!message) {
    log(
      `not learned: ${size} bytes, over bayesLearn.maxMessageKilobytes (${settings.maxMessageBytes / 1024})`,
    );
    return 'too-big';
  }
  const entry: SpooledLearn = { class: cls, user: req.user!, movedAt: Date.now(), message };
  try {
    await spoolMessage(settings.spoolDir, entry);
  } catch (err) {
    log(
      `cannot spool into ${settings.spoolDir} (${(err as NodeJS.ErrnoException).code ?? err}); queueing directly`,
    );
    try {
      await io.queueDirect(settings, entry);
      return 'queued';
    } catch (err2) {
      log(`LOST: the spool failed and Redis did not take it either: ${(err2 as Error).message}`);
      return 'lost';
    }
  }
  try {
    await io.afterSpool(settings);
  } catch (err) {
    log(
      `spooled; the flusher did not start (${(err as Error).message}): the next move or bayes-stats queues it`,
    );
  }
  return 'spooled';
}
