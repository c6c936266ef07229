/**
 * Sealing secrets that travel inside job data (the credentials of an ad-hoc imapsync), so that
 * Redis, the dashboard and BullMQ's job history only ever hold ciphertext.
 *
 * Format (stable, for producers in other languages): `mjs2.` + base64url(iv ‖ tag ‖ ciphertext)
 * where the cipher is AES-256-GCM with a random 12-byte IV, a 16-byte tag and, as additional
 * authenticated data, the value's purpose: the UTF-8 bytes of `mailjobs-secret-v2`, host (lower
 * case), port, field (`password`, `admin.password`, `oauth.refreshToken` or `oauth.accessToken`) and username, joined by "\n" (the
 * username last: it is the only part that may hold any character). The key is the 32 bytes
 * stored base64-encoded in the key file (`secrets.keyFile` in the config). Every worker that
 * may run such a job needs the same key file; a value opened with another key, or for another
 * purpose, fails the tag check: a password sealed for one server is never sent to another.
 * `mjs1.` values (sealed for no purpose, before v2) are refused: seal them again.
 *
 * The key file is created on first use when absent: 32 random bytes, mode 0600, written to a
 * temporary file and hard-linked into place, so two processes starting at once cannot end up
 * with two different keys.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Secret } from '../config/secret.js';
import { ConfigError, InvalidPayloadError } from './errors.js';

/** The prefix of every sealed value; also what payload schemas check for. */
export const SEALED_PREFIX = 'mjs2.';
/** The prefix of values sealed for no purpose (before v2): refused, never opened. */
export const UNBOUND_SEALED_PREFIX = 'mjs1.';
/** Why an `mjs1.` value is refused (also the payload schema's message). */
export const UNBOUND_MESSAGE =
  'sealed by an older mailjobs for no particular host ("mjs1."): seal it again for this host, port and user (mailjobs seal --host H --port P --user U)';
const AAD_VERSION = 'mailjobs-secret-v2';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/**
 * Which field a sealed value is: a password of an ad-hoc task's `remote`, or an OAuth 2.0 token
 * kept in Redis for a connector or a configured task (src/oauth/token-store.ts).
 */
export type SealedField = 'password' | 'admin.password' | 'oauth.refreshToken' | 'oauth.accessToken';

/** What a sealed value is for: the one login it may be sent to. */
export interface SealPurpose {
  host: string;
  port: number;
  /** The mailbox (the remote `username`), also for an admin's password. */
  username: string;
  field: SealedField;
}

/** True when `value` looks like a sealed secret (it may still fail to open). */
export function isSealed(value: string): boolean {
  return value.startsWith(SEALED_PREFIX) && value.length > SEALED_PREFIX.length + 30;
}

/** True for a value sealed by any version (`mjs<n>.`): what the dashboard redacts. */
export function looksSealed(value: string): boolean {
  return /^mjs\d+\./.test(value);
}

function purposeData(p: SealPurpose): Buffer {
  return Buffer.from([AAD_VERSION, p.host.toLowerCase(), String(p.port), p.field, p.username].join('\n'));
}

/** `password of john at imap.example.com:993`: how errors name a purpose. */
export function describePurpose(p: SealPurpose): string {
  return `${p.field} of ${p.username} at ${p.host}:${p.port}`;
}

/** Encrypts `plain` with `key` (32 bytes), for `purpose` only. */
export function sealWithKey(plain: string, key: Buffer, purpose: SealPurpose): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(purposeData(purpose));
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return SEALED_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/**
 * Decrypts a sealed value for `purpose`. A wrong key, another purpose (host, port, user or
 * field), a truncated or altered value all fail the GCM tag check and throw
 * `InvalidPayloadError` naming `field` (the payload path), never the value.
 */
export function openWithKey(sealed: string, key: Buffer, purpose: SealPurpose, field: string): Secret {
  const raw = isSealed(sealed) ? Buffer.from(sealed.slice(SEALED_PREFIX.length), 'base64url') : undefined;
  if (!raw || raw.length < IV_BYTES + TAG_BYTES) {
    throw new InvalidPayloadError(`${field}: not a sealed secret (expected "${SEALED_PREFIX}...")`);
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(purposeData(purpose));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    const plain = Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
    return new Secret(plain.toString('utf8'), 'sealed in the job');
  } catch {
    throw new InvalidPayloadError(
      `${field}: cannot be opened as the ${describePurpose(purpose)} (sealed for another host, port, user or field, with another key file, or altered): seal it for this task`,
    );
  }
}

function parseKey(text: string, file: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== KEY_BYTES) {
    throw new ConfigError(`${file}: the secrets key file must hold ${KEY_BYTES} bytes, base64-encoded`, file);
  }
  return key;
}

/** Reads the key file, creating it (0600, 32 random bytes) when it does not exist yet. */
export async function loadOrCreateKey(file: string): Promise<Buffer> {
  try {
    return parseKey(await readFile(file, 'utf8'), file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw asConfigError(err, file);
  }
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(`${randomBytes(KEY_BYTES).toString('base64')}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    // link() fails with EEXIST when another process won the race: then its key is the key.
    await link(tmp, file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    await unlink(tmp);
    return parseKey(await readFile(file, 'utf8'), file);
  } catch (err) {
    throw asConfigError(err, file);
  }
}

function asConfigError(err: unknown, file: string): Error {
  if (err instanceof ConfigError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  return new ConfigError(`${file}: cannot read or create the secrets key file: ${code}`, file);
}

/** Seals and opens with the key in one key file (loaded once, on first use). */
export class SecretBox {
  #key?: Promise<Buffer>;

  constructor(readonly keyFile: string) {}

  private key(): Promise<Buffer> {
    this.#key ??= loadOrCreateKey(this.keyFile);
    this.#key.catch(() => (this.#key = undefined)); // a failed read is retried next time
    return this.#key;
  }

  async seal(plain: string, purpose: SealPurpose): Promise<string> {
    return sealWithKey(plain, await this.key(), purpose);
  }

  async open(sealed: string, purpose: SealPurpose, field: string): Promise<Secret> {
    return openWithKey(sealed, await this.key(), purpose, field);
  }
}
