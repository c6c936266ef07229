import { describe, expect, it } from 'vitest';
import { PermanentJobError, ProtocolError } from '../core/errors.js';
import { listDovecotUsers } from './dovecot.js';

describe('listDovecotUsers', () => {
  it('returns one user per line, trimmed, without blanks or duplicates', async () => {
    expect(await listDovecotUsers(['printf', 'alice\\n bob \\n\\nalice\\ncarol@example.com\\n'])).toEqual([
      'alice',
      'bob',
      'carol@example.com',
    ]);
  });

  it('passes arguments without a shell', async () => {
    expect(await listDovecotUsers(['echo', '$(id -u); *'])).toEqual(['$(id -u); *']);
  });

  it('fails for good when the program is missing or misused', async () => {
    await expect(listDovecotUsers(['/nonexistent/doveadm'])).rejects.toBeInstanceOf(PermanentJobError);
    await expect(listDovecotUsers(['sh', '-c', 'echo bad usage >&2; exit 64'])).rejects.toMatchObject({
      code: 'ENODOVEADM',
      message: expect.stringContaining('bad usage'),
    });
  });

  it('fails for retry on other exits (auth process down)', async () => {
    const err = await listDovecotUsers(['sh', '-c', 'echo auth down >&2; exit 75']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toMatchObject({ code: 'EDOVEADM', message: expect.stringContaining('auth down') });
  });
});
