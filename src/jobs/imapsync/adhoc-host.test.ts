import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { PermanentJobError } from '../../core/errors.js';
import { type AdhocHostRules, checkAdhocHost } from './adhoc-host.js';
import { SyncConnectionError } from './outcome.js';

const none: AdhocHostRules = { allow: [], deny: [] };
const resolvesTo =
  (...addresses: string[]) =>
  async () =>
    addresses;

async function refusal(host: string, rules: AdhocHostRules = none, resolve = resolvesTo()): Promise<string> {
  const err = await checkAdhocHost(host, rules, resolve).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, host).toBeInstanceOf(PermanentJobError);
  expect((err as PermanentJobError).code).toBe('EHOSTREFUSED');
  return (err as Error).message;
}

describe('ad-hoc hosts', () => {
  it('refuses loopback, link-local and unspecified addresses by default, saying why', async () => {
    expect(await refusal('127.0.0.1')).toBe(
      'adhoc.remote.host: 127.0.0.1 is refused for ad-hoc tasks: loopback; an admin may allow it in imapsync.adhoc.allow',
    );
    expect(await refusal('127.8.9.10')).toContain('loopback');
    expect(await refusal('::1')).toContain('loopback');
    expect(await refusal('::ffff:127.0.0.1')).toContain('loopback');
    expect(await refusal('169.254.169.254')).toContain('link-local');
    expect(await refusal('fe80::1')).toContain('link-local');
    expect(await refusal('0.0.0.0')).toContain("this host's own address");
  });

  it("refuses this host's own addresses", async () => {
    const own = Object.values(networkInterfaces())
      .flat()
      .map((a) => a!.address)
      .filter((a) => !a.startsWith('127.') && a !== '::1' && !a.startsWith('fe80'));
    expect(own.length).toBeGreaterThan(0); // a host with a network interface besides loopback
    for (const address of own) expect(await refusal(address)).toContain("this host's own address");
  });

  it('checks every address a name resolves to', async () => {
    const msg = await refusal('imap.example.com', none, resolvesTo('192.0.2.10', '127.0.0.1'));
    expect(msg).toContain('127.0.0.1 (imap.example.com resolves to 127.0.0.1) is refused');
    await expect(
      checkAdhocHost('imap.example.com', none, resolvesTo('192.0.2.10', '2001:db8::10')),
    ).resolves.toBe('192.0.2.10');
    await expect(checkAdhocHost('imap.example.com', none, resolvesTo())).rejects.toThrow(SyncConnectionError);
  });

  it('lets imapsync.adhoc.allow through and refuses imapsync.adhoc.deny', async () => {
    await expect(checkAdhocHost('127.0.0.1', { allow: ['127.0.0.1'], deny: [] })).resolves.toBe('127.0.0.1');
    await expect(checkAdhocHost('127.0.0.1', { allow: ['127.0.0.0/8'], deny: [] })).resolves.toBe(
      '127.0.0.1',
    );
    expect(await refusal('127.0.0.2', { allow: ['127.0.0.1'], deny: [] })).toContain('loopback');
    const rules = { allow: ['10.1.2.3'], deny: ['10.0.0.0/8'] };
    expect(await refusal('10.9.9.9', rules)).toContain('imapsync.adhoc.deny');
    await expect(checkAdhocHost('10.1.2.3', rules)).resolves.toBe('10.1.2.3');
  });

  it('a name that does not resolve is a connection failure (retried), not a refusal', async () => {
    const notFound = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    };
    await expect(checkAdhocHost('nowhere.example.com', none, notFound)).rejects.toThrow(SyncConnectionError);
  });
});
