import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidPayloadError } from './errors.js';
import { SEALED_PREFIX, SecretBox, loadOrCreateKey, openWithKey, sealWithKey } from './crypto.js';

const dir = mkdtempSync(join(tmpdir(), 'mailjobs-crypto-'));

describe('sealed secrets', () => {
  it('round-trips, differs each time, and never contains the plaintext', async () => {
    const box = new SecretBox(join(dir, 'a.key'));
    const [one, two] = [await box.seal('pässwörd'), await box.seal('pässwörd')];
    expect(one.startsWith(SEALED_PREFIX)).toBe(true);
    expect(one).not.toBe(two);
    expect(one).not.toContain('pässwörd');
    const secret = await box.open(one, 'f');
    expect(secret.reveal()).toBe('pässwörd');
    expect(JSON.stringify({ secret })).not.toContain('pässwörd');
  });

  it('refuses another key, an altered value and plaintext, naming the field only', async () => {
    const key = await loadOrCreateKey(join(dir, 'b.key'));
    const other = await loadOrCreateKey(join(dir, 'c.key'));
    const sealed = sealWithKey('hunter2', key);
    expect(() => openWithKey(sealed, other, 'adhoc.remote.password')).toThrow(InvalidPayloadError);
    expect(() => openWithKey(sealed, other, 'adhoc.remote.password')).toThrow(
      /^adhoc\.remote\.password: cannot be opened/,
    );
    const flipped = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BA' : 'AA');
    expect(() => openWithKey(flipped, key, 'f')).toThrow(InvalidPayloadError);
    expect(() => openWithKey('hunter2', key, 'f')).toThrow(/f: not a sealed secret/);
    try {
      openWithKey(sealed, other, 'f');
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
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
