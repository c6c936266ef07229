/**
 * Dashboard passwords: scrypt hashes in a self-describing format,
 * `scrypt$N$r$p$<salt base64url>$<hash base64url>`, so the cost can be raised later without
 * breaking existing hashes. Verification is constant-time, and an unknown user costs the same
 * work as a known one, so timing does not tell which user names exist.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** Cost for new hashes: N=2^15, r=8 (32 MiB, tens of milliseconds). */
export const DEFAULT_COST = { N: 2 ** 15, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

export interface ParsedHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password.normalize('NFC'), salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

const memoryFor = (N: number, r: number) => 256 * N * r;

/** Parses a stored hash; `problem` says what is wrong with it, for the config error. */
export function parsePasswordHash(value: string): { hash?: ParsedHash; problem?: string } {
  const parts = value.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt')
    return { problem: 'must be "scrypt$N$r$p$salt$hash" (write it with "mailjobs dashboard add-user")' };
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (!Number.isInteger(Math.log2(N)) || N < 2 ** 10 || N > 2 ** 20)
    return { problem: 'scrypt N must be a power of two from 1024 to 1048576' };
  if (!Number.isInteger(r) || r < 1 || r > 32 || !Number.isInteger(p) || p < 1 || p > 16)
    return { problem: 'scrypt r must be 1-32 and p 1-16' };
  const salt = Buffer.from(parts[4]!, 'base64url');
  const hash = Buffer.from(parts[5]!, 'base64url');
  if (salt.length < 16 || hash.length < 16)
    return { problem: 'salt and hash must be at least 16 bytes each' };
  return { hash: { N, r, p, salt, hash } };
}

/** Hashes a password for the config (`cost` is for tests, which use a cheap one). */
export async function hashPassword(
  password: string,
  cost: { N: number; r: number; p: number } = DEFAULT_COST,
): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_LENGTH, { ...cost, maxmem: memoryFor(cost.N, cost.r) });
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** A hash no password matches, checked when the user name is unknown so both take as long. */
let decoy: Promise<string> | undefined;

/** True when `password` matches `stored`; `stored` undefined (unknown user) is false, as slowly. */
export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  const known = stored !== undefined;
  const parsed = parsePasswordHash(
    stored ?? (await (decoy ??= hashPassword(randomBytes(16).toString('hex')))),
  );
  if (!parsed.hash) return false;
  const { N, r, p, salt, hash } = parsed.hash;
  const key = await scrypt(password, salt, hash.length, { N, r, p, maxmem: memoryFor(N, r) });
  return timingSafeEqual(key, hash) && known;
}
