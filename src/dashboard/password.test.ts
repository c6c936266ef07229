import { describe, expect, it } from 'vitest';
import { hashPassword, parsePasswordHash, verifyPassword } from './password.js';

const cheap = { N: 1024, r: 8, p: 1 };

describe('dashboard password hashes', () => {
  it('writes scrypt$N$r$p$salt$hash and verifies only the right password', async () => {
    const hash = await hashPassword('correct horse battery', cheap);
    expect(hash).toMatch(/^scrypt\$1024\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(await verifyPassword('correct horse battery', hash)).toBe(true);
    expect(await verifyPassword('correct horse batterY', hash)).toBe(false);
    expect(await verifyPassword('', hash)).toBe(false);
  });

  it('salts: the same password hashes differently', async () => {
    expect(await hashPassword('same', cheap)).not.toBe(await hashPassword('same', cheap));
  });

  it('uses the cost stored in the hash (the default is N=2^15)', async () => {
    const hash = await hashPassword('pw-default-cost');
    expect(hash.startsWith('scrypt$32768$8$1$')).toBe(true);
    expect(await verifyPassword('pw-default-cost', hash)).toBe(true);
  });

  it('an unknown user (no hash) is refused', async () => {
    expect(await verifyPassword('anything', undefined)).toBe(false);
  });

  it('names what is wrong with a malformed hash', () => {
    expect(parsePasswordHash('$2b$10$bcrypt').problem).toMatch(/scrypt\$N\$r\$p\$salt\$hash/);
    expect(
      parsePasswordHash('scrypt$1000$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA').problem,
    ).toMatch(/power of two/);
    expect(parsePasswordHash('scrypt$1024$8$1$AA$AA').problem).toMatch(/at least 16 bytes/);
  });
});
