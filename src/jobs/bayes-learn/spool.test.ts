import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SpoolFormatError,
  SpoolTooBigError,
  flusherPid,
  listSpool,
  quarantine,
  readSpooled,
  spoolMessage,
  takeFlushLock,
} from './spool.js';

let dir: string;
beforeEach(async () => {
  dir = path.join(await mkdtemp(path.join(tmpdir(), 'mailjobs-spool-')), 'learn');
});
afterEach(async () => {
  await rm(path.dirname(dir), { recursive: true, force: true });
});

const bytes = Buffer.from([0x46, 0x72, 0x6f, 0x6d, 0x3a, 0x20, 0xff, 0x0a, 0x0d, 0x0a, 0x00, 0x42]);

describe('learn spool', () => {
  it('reads back exactly what was spooled, oldest move first, creating the folder', async () => {
    await spoolMessage(dir, { class: 'ham', user: 'bob', movedAt: 2000, message: Buffer.from('second') });
    await spoolMessage(dir, { class: 'spam', user: 'alice', movedAt: 1000, message: bytes });
    const files = await listSpool(dir);
    expect(files).toHaveLength(2);
    const first = await readSpooled(files[0]!);
    expect(first).toMatchObject({ class: 'spam', user: 'alice', movedAt: 1000 });
    expect(first.message.equals(bytes)).toBe(true);
    expect((await readSpooled(files[1]!)).user).toBe('bob');
    // no temporary file is left behind
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('lists nothing for a missing folder', async () => {
    expect(await listSpool(path.join(dir, 'nope'))).toEqual([]);
  });

  it('refuses a file that is not ours, and quarantines it in bad/', async () => {
    await spoolMessage(dir, { class: 'spam', user: 'a', movedAt: 1, message: bytes });
    const file = path.join(dir, '0000000000001-1-x.learn');
    await writeFile(file, 'garbage without a header line');
    await expect(readSpooled(file)).rejects.toBeInstanceOf(SpoolFormatError);
    const moved = await quarantine(file);
    expect(await readFile(moved!, 'utf8')).toBe('garbage without a header line');
    expect(await listSpool(dir)).toHaveLength(1);
  });

  it('has one flusher at a time, and takes over the lock of a dead one', async () => {
    await spoolMessage(dir, { class: 'spam', user: 'a', movedAt: 1, message: bytes });
    const release = await takeFlushLock(dir);
    expect(release).toBeDefined();
    expect(await flusherPid(dir)).toBe(process.pid);
    expect(await takeFlushLock(dir)).toBeUndefined();
    await release!();
    expect(await flusherPid(dir)).toBeUndefined();
    // a pid that cannot be alive (above pid_max): stale
    await writeFile(path.join(dir, '.flush.lock'), '99999999');
    const again = await takeFlushLock(dir);
    expect(again).toBeDefined();
    await again!();
  });
});

describe('learn spool entries the mail user planted', () => {
  const head = '{"v":1,"class":"spam","user":"alice","movedAt":1}\n';
  beforeEach(() => mkdir(dir, { recursive: true }));

  it('a FIFO is refused at once, not waited on', async () => {
    const fifo = path.join(dir, '1-fifo.learn');
    await promisify(execFile)('mkfifo', [fifo]);
    await expect(readSpooled(fifo)).rejects.toThrow(new SpoolFormatError('1-fifo.learn: not a regular file'));
  });

  it('a symbolic link is refused, never followed; moved aside it is the link that moves', async () => {
    const outside = path.join(path.dirname(dir), 'outside.learn');
    await writeFile(outside, `${head}secret`);
    const link = path.join(dir, '2-link.learn');
    await symlink(outside, link);
    await expect(readSpooled(link)).rejects.toThrow(
      new SpoolFormatError('2-link.learn: a symbolic link, not a spool file'),
    );
    await quarantine(link);
    expect(await readFile(outside, 'utf8')).toBe(`${head}secret`);
  });

  it('a file over the limit is refused by its size, before it is read', async () => {
    const huge = path.join(dir, '3-huge.learn');
    const f = await open(huge, 'w');
    await f.write(head);
    await f.truncate(3 * 1024 ** 3); // sparse; Node could not even read it whole
    await f.close();
    await expect(readSpooled(huge, 1024)).rejects.toBeInstanceOf(SpoolTooBigError);
    await writeFile(huge, `${head}${'x'.repeat(1025)}`);
    await expect(readSpooled(huge, 1024)).rejects.toThrow(
      /1025 bytes, over bayesLearn.maxMessageKilobytes \(1\)/,
    );
  });

  it('a `bad` that is a link: nothing is moved where it points; the file is removed instead', async () => {
    const elsewhere = path.join(path.dirname(dir), 'elsewhere');
    await mkdir(elsewhere);
    await symlink(elsewhere, path.join(dir, 'bad'));
    const file = path.join(dir, '4-junk.learn');
    await writeFile(file, 'garbage');
    expect(await quarantine(file)).toBeUndefined();
    expect(await readdir(elsewhere)).toEqual([]);
    expect(await listSpool(dir)).toEqual([]);
  });

  it('a FIFO as the lock file neither stalls nor blocks the flush lock', async () => {
    await promisify(execFile)('mkfifo', [path.join(dir, '.flush.lock')]);
    expect(await flusherPid(dir)).toBeUndefined();
    const release = await takeFlushLock(dir);
    expect(release).toBeDefined();
    await release!();
  });
});
