import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidPayloadError } from './errors.js';
import {
  SEALED_PREFIX,
  type SealPurpose,
  SecretBox,
  loadOrCreateKey,
  openWithKey,
  sealWithKey,
} from './crypto.js';

/** What `fn` throws; fails the test when it returns. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw, got a return');
}

const dir = mkdtempSync(join(tmpdir(), 'mailjobs-crypto-'));
const purpose: SealPurpose = { host: 'imap.example.com', port: 993, username: 'john', field: 'password' };

describe('sealed secrets', () => {
  it('round-trips, differs each time, and never contains the plaintext', async () => {
    const box = new SecretBox(join(dir, 'a.key'));
    const [one, two] = [await box.seal('pässwörd', purpose), await box.seal('pässwörd', purpose)];
    expect(one.startsWith(SEALED_PREFIX)).toBe(true);
    expect(one).not.toBe(two);
    expect(one).not.toContain('pässwörd');
    const secret = await box.open(one, { ...purpose, host: 'IMAP.example.com' }, 'f');
    expect(secret.reveal()).toBe('pässwörd');
    expect(JSON.stringify({ secret })).not.toContain('pässwörd');
  });

  it('refuses another key, an altered value and plaintext, naming the field only', async () => {
    const key = await loadOrCreateKey(join(dir, 'b.key'));
    const other = await loadOrCreateKey(join(dir, 'c.key'));
    const sealed = sealWithKey('hunter2', key, purpose);
    expect(() => openWithKey(sealed, other, purpose, 'adhoc.remote.password')).toThrow(InvalidPayloadError);
    expect(() => openWithKey(sealed, other, purpose, 'adhoc.remote.password')).toThrow(
      /^adhoc\.remote\.password: cannot be opened/,
    );
    const flipped = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BA' : 'AA');
    expect(() => openWithKey(flipped, key, purpose, 'f')).toThrow(InvalidPayloadError);
    expect(() => openWithKey('hunter2', key, purpose, 'f')).toThrow(/f: not a sealed secret/);
    expect(thrown(() => openWithKey(sealed, other, purpose, 'f')).message).not.toContain('hunter2');
  });

  it('opens a value only for the host, port, user and field it was sealed for', async () => {
    const key = await loadOrCreateKey(join(dir, 'd.key'));
    const sealed = sealWithKey('hunter2', key, purpose);
    expect(openWithKey(sealed, key, purpose, 'f').reveal()).toBe('hunter2');
    for (const aimed of [
      { ...purpose, host: 'imap.attacker.example' },
      { ...purpose, port: 143 },
      { ...purpose, username: 'jane' },
      { ...purpose, field: 'admin.password' as const },
    ]) {
      const err = thrown(() => openWithKey(sealed, key, aimed, 'adhoc.remote.password'));
      expect(err).toBeInstanceOf(InvalidPayloadError);
      const { message } = err;
      expect(message).toMatch(
        /^adhoc\.remote\.password: cannot be opened as the (admin\.)?password of \S+ at \S+:\d+ \(sealed for another host, port, user or field/,
      );
      expect(message).not.toContain('hunter2');
    }
    // a value sealed for no purpose (mjs1., before v2) is never opened
    expect(() => openWithKey(`mjs1.${sealed.slice(SEALED_PREFIX.length)}`, key, purpose, 'f')).toThrow(
      /f: not a sealed secret/,
    );
  });

  it('creates the key file with mode 0600 once, even when asked concurrently', async () => {
    const file = join(dir, 'sub', 'new.key');
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateKey(file)));
    expect(new Set(keys.map((k) => k.toString('hex'))).size).toBe(1);
    expect(keys[0]!.length).toBe(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect((await loadOrCreateKey(file)).equals(keys[0]!)).toBe(true);
  });

  it('rejects a key file that does not hold 32 bytes', async () => {
    const file = join(dir, 'short.key');
    writeFileSync(file, 'c2hvcnQ=\n');
    await expect(loadOrCreateKey(file)).rejects.toThrow(ConfigError);
  });
});
