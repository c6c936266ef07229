import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SpoolFormatError,
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
