/**
 * The byte-level IMAP connection (src/mail/imap-wire.ts, used for imapsync's APPENDs) against a
 * private Dovecot with TLS: both TLS modes connect, and a certificate that verification refuses
 * is a ProtocolError ETLS naming the host and the reason, whichever mode met it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/core/errors.js';
import { ImapWire } from '../../src/mail/imap-wire.js';
import { type DovecotFixture, startDovecot } from '../fixtures/dovecot.js';

describe('ImapWire against a private Dovecot (TLS on)', () => {
  let dovecot: DovecotFixture;

  beforeAll(async () => {
    dovecot = await startDovecot({ tls: true });
  });

  afterAll(async () => {
    await dovecot?.stop();
  });

  const modes = () =>
    [
      ['starttls', dovecot.imapPort],
      ['tls', dovecot.imapsPort!],
    ] as const;

  it('connects with STARTTLS and with implicit TLS (verification off)', async () => {
    for (const [security, port] of modes()) {
      const wire = await ImapWire.connect({ host: '127.0.0.1', port, security, verifyCertificate: false });
      expect(wire.capabilities.has('STARTTLS'), security).toBe(false);
      expect(wire.capabilities.has('IMAP4REV1'), security).toBe(true);
      await wire.logout();
    }
  });

  it('with verification on, the self-signed certificate is a ProtocolError ETLS naming host and reason', async () => {
    for (const [security, port] of modes()) {
      const err = await ImapWire.connect({
        host: '127.0.0.1',
        port,
        security,
        verifyCertificate: true,
      }).catch((e: unknown) => e);
      expect(err, security).toBeInstanceOf(ProtocolError);
      expect(err, security).toMatchObject({ code: 'ETLS' });
      expect((err as Error).message, security).toMatch(/127\.0\.0\.1.*self-signed certificate/);
    }
  });
});
