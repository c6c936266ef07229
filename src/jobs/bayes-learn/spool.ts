/**
 * The local spool of `mailjobs-learn`: one file per moved message, written before anything
 * else happens, removed only once the message is queued in Redis. Node built-ins (and the
 * import-free junk defaults) only: the pipe program imports this on every move a user makes.
 *
 * A file is `<movedAt>-<pid>-<random>.learn`: one JSON line `{"v":1,"class","user","movedAt"}`,
 * then the raw message. It is written under a dot-name and renamed, so a reader never sees half.
 *
 * The mail user can write this folder, so the worker trusts nothing in it: files are opened
 * without following links or waiting on FIFOs, only regular files under the size limit are
 * read (the size checked on the open file, before reading), and `bad/` must be a real folder.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { MAX_MESSAGE_KILOBYTES_LIMIT } from '../../config/junk-defaults.js';

/** One spooled learn request. */
export interface SpooledLearn {
  class: 'spam' | 'ham';
  user: string;
  movedAt: number;
  message: Buffer;
}

/** A spool file that cannot be read back as a learn request; moved aside, never retried. */
export class SpoolFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
  }
}

/** A spool entry over the size limit: removed unread, counted as too big. */
export class SpoolTooBigError extends Error {
  constructor(
    message: string,
    readonly bytes: number,
  ) {
    super(message);
    this.name = this.constructor.name;
  }
}

/** Room for the header line on top of the message's size limit. */
const MAX_HEAD_BYTES = 1024;
const SUFFIX = '.learn';
const LOCK = '.flush.lock';
/** Where unreadable files go, so they neither block the spool nor vanish. */
export const QUARANTINE = 'bad';

/** Writes `entry` into `dir` (created if missing) and returns the file's path. */
export async function spoolMessage(dir: string, entry: SpooledLearn): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o770 });
  const name = `${String(entry.movedAt).padStart(13, '0')}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const head = JSON.stringify({ v: 1, class: entry.class, user: entry.user, movedAt: entry.movedAt });
  const tmp = path.join(dir, `.${name}.tmp`);
  const file = await open(tmp, 'wx', 0o660);
  try {
    await file.writeFile(Buffer.concat([Buffer.from(`${head}\n`), entry.message]));
    // The move has happened for the user: the message must survive a crash from here on.
    await file.sync();
  } finally {
    await file.close();
  }
  const final = path.join(dir, `${name}${SUFFIX}`);
  await rename(tmp, final);
  return final;
}

/** The spooled files of `dir`, oldest move first; none when the folder does not exist. */
export async function listSpool(dir: string): Promise<string[]> {
  try {
    const names = await readdir(dir);
    return names
      .filter((n) => n.endsWith(SUFFIX) && !n.startsWith('.'))
      .sort()
      .map((n) => path.join(dir, n));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * Opens `file` only if it is a regular file: a symbolic link is not followed (O_NOFOLLOW), a
 * FIFO or device is not waited on (O_NONBLOCK), and the type is checked on the open descriptor,
 * so nothing can be swapped in between.
 */
async function openRegular(file: string): Promise<{ handle: FileHandle; size: number }> {
  const name = path.basename(file);
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP')
      throw new SpoolFormatError(`${name}: a symbolic link, not a spool file`);
    throw err;
  }
  const s = await handle.stat();
  if (!s.isFile()) {
    await handle.close();
    throw new SpoolFormatError(`${name}: not a regular file`);
  }
  return { handle, size: s.size };
}

/** The `size` bytes fstat announced; a file that has grown or shrunk since is refused. */
async function readExactly(handle: FileHandle, size: number, name: string): Promise<Buffer> {
  const buf = Buffer.alloc(size + 1); // one byte more: a file that grew is seen
  let n = 0;
  for (let r = 1; r > 0 && n < buf.length; n += r) {
    ({ bytesRead: r } = await handle.read(buf, n, buf.length - n, n));
  }
  if (n !== size) throw new SpoolFormatError(`${name}: changed while being read`);
  return buf.subarray(0, n);
}

/**
 * Reads a spool file back; throws {@link SpoolFormatError} when it is not one of ours (or not a
 * regular file), {@link SpoolTooBigError} when its message is over `maxMessageBytes`.
 */
export async function readSpooled(
  file: string,
  maxMessageBytes = MAX_MESSAGE_KILOBYTES_LIMIT * 1024,
): Promise<SpooledLearn> {
  const name = path.basename(file);
  const tooBig = (bytes: number) =>
    new SpoolTooBigError(
      `${name}: ${bytes} bytes, over bayesLearn.maxMessageKilobytes (${maxMessageBytes / 1024})`,
      bytes,
    );
  const { handle, size } = await openRegular(file);
  let data: Buffer;
  try {
    if (size > maxMessageBytes + MAX_HEAD_BYTES) throw tooBig(size);
    data = await readExactly(handle, size, name);
  } finally {
    await handle.close();
  }
  const eol = data.indexOf(0x0a);
  let head: Record<string, unknown> | undefined;
  try {
    head =
      eol > 0 ? (JSON.parse(data.subarray(0, eol).toString('utf8')) as Record<string, unknown>) : undefined;
  } catch {
    head = undefined;
  }
  const cls = head?.class;
  if (
    !head ||
    head.v !== 1 ||
    (cls !== 'spam' && cls !== 'ham') ||
    typeof head.user !== 'string' ||
    typeof head.movedAt !== 'number'
  ) {
    throw new SpoolFormatError(`${name}: not a mailjobs learn spool file`);
  }
  const message = data.subarray(eol + 1);
  if (message.length > maxMessageBytes) throw tooBig(message.length);
  return { class: cls, user: head.user, movedAt: head.movedAt, message };
}

/**
 * Moves a file that cannot be queued into `<dir>/bad/`, where an admin can look at it (a link
 * or FIFO is moved itself, never what it points to). When `bad` is not a real folder (a link
 * the mail user made, say), the file is removed instead: returns undefined.
 */
export async function quarantine(file: string): Promise<string | undefined> {
  const dir = path.join(path.dirname(file), QUARANTINE);
  await mkdir(dir, { mode: 0o770 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  if (!(await lstat(dir)).isDirectory()) {
    await rm(file, { force: true });
    return undefined;
  }
  const to = path.join(dir, path.basename(file));
  await rename(file, to);
  return to;
}

export async function removeSpooled(file: string): Promise<void> {
  await unlink(file);
}

/** Removes `.tmp` files older than an hour: left by a writer that died mid-write. */
export async function removeStaleTemp(dir: string, now = Date.now()): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith('.') || !name.endsWith('.tmp')) continue;
    const full = path.join(dir, name);
    const s = await lstat(full).catch(() => undefined);
    if (s && now - s.mtimeMs > 3_600_000) await rm(full, { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user (a flusher run by the worker as root).
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lock file's content; nothing when it is missing or not a small regular file. */
async function readLock(file: string): Promise<string> {
  const { handle, size } = await openRegular(file).catch(() => ({ handle: undefined, size: 0 }));
  if (!handle) return '';
  try {
    return size > 32 ? '' : (await readExactly(handle, size, LOCK)).toString('utf8');
  } catch {
    return '';
  } finally {
    await handle.close();
  }
}

/** The pid of a live flusher holding `dir`'s lock, if any. */
export async function flusherPid(dir: string): Promise<number | undefined> {
  const pid = Number((await readLock(path.join(dir, LOCK))).trim());
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}

/**
 * Takes `dir`'s flush lock for this process (a lock left by a dead process is taken over).
 * Returns a release function, or undefined when a live flusher holds it.
 */
export async function takeFlushLock(dir: string): Promise<(() => Promise<void>) | undefined> {
  const lock = path.join(dir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const f = await open(lock, 'wx', 0o660);
      await f.writeFile(String(process.pid));
      await f.close();
      return () => rm(lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (await flusherPid(dir)) return undefined;
      await rm(lock, { force: true }); // stale: its process is gone
    }
  }
  return undefined;
}
