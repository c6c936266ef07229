import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDailyVersion, readFreshclamSettings } from './clamav-db.js';

const dir = mkdtempSync(join(tmpdir(), 'mailjobs-clamavdb-'));
const header = (version: number) =>
  Buffer.concat([
    Buffer.from(
      `ClamAV-VDB:25 Nov 2026 09-41 +0000:${version}:1:216:0123:X:mailjobs:1795599665`.padEnd(512, ' '),
    ),
    Buffer.from('body'),
  ]);

describe('freshclam.conf and database headers', () => {
  it('reads DatabaseDirectory and NotifyClamd, ignoring comments', async () => {
    const file = join(dir, 'freshclam.conf');
    writeFileSync(
      file,
      '# DatabaseDirectory /nope\nDatabaseDirectory /var/lib/clamav-test\nNotifyClamd /etc/clamav/clamd.conf\n',
    );
    expect(await readFreshclamSettings(file)).toEqual({
      databaseDirectory: '/var/lib/clamav-test',
      notifyClamd: '/etc/clamav/clamd.conf',
    });
    writeFileSync(file, 'DatabaseMirror database.clamav.net\n');
    expect(await readFreshclamSettings(file)).toEqual({ databaseDirectory: '/var/lib/clamav' });
  });

  it('names a missing freshclam.conf', async () => {
    await expect(readFreshclamSettings(join(dir, 'none.conf'))).rejects.toMatchObject({
      code: 'ECONFIG',
      message: expect.stringContaining(`"${join(dir, 'none.conf')}": ENOENT`),
    });
  });

  it('takes the newest daily version among daily.cld/cvd/cud', async () => {
    const db = mkdtempSync(join(tmpdir(), 'mailjobs-clamavdb-'));
    expect(await readDailyVersion(db)).toBeUndefined();
    writeFileSync(join(db, 'daily.cvd'), header(27000));
    writeFileSync(join(db, 'daily.cld'), header(27005));
    writeFileSync(join(db, 'main.cvd'), header(62));
    expect(await readDailyVersion(db)).toBe(27005);
  });
});
