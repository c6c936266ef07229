import { describe, expect, it } from 'vitest';
import { sealWithKey } from '../../core/crypto.js';
import { InvalidPayloadError } from '../../core/errors.js';
import { parsePayload } from '../../worker/execute.js';
import { imapsyncContract } from './schema.js';

const sealed = sealWithKey('pw', Buffer.alloc(32, 1));
const remote = { host: 'imap.example.com', username: 'john@example.com', password: sealed };

function failure(payload: unknown): string {
  try {
    parsePayload(imapsyncContract, payload);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidPayloadError);
    return (err as Error).message;
  }
  throw new Error('expected an InvalidPayloadError');
}

describe('imapsync payload', () => {
  it('takes a configured task with run modes, or an ad-hoc task with defaults', () => {
    expect(parsePayload(imapsyncContract, { task: 'john', dryRun: true })).toEqual({
      task: 'john',
      dryRun: true,
    });
    const p = parsePayload(imapsyncContract, { adhoc: { localUser: 'john', remote } });
    expect(p.adhoc!.remote).toMatchObject({ security: 'tls', verifyCertificate: true });
    expect(p.adhoc!.options).toMatchObject({ trash: true, deleteOnSource: false });
    expect(imapsyncContract.target(p)).toBe('adhoc:john<john@example.com@imap.example.com');
    expect(imapsyncContract.target({ task: 'john' })).toBe('john');
  });

  it('refuses a plaintext password, naming the field and not the value', () => {
    const msg = failure({ adhoc: { localUser: 'john', remote: { ...remote, password: 'hunter2' } } });
    expect(msg).toMatch(/adhoc\.remote\.password: must be sealed/);
    expect(msg).not.toContain('hunter2');
    expect(
      failure({
        adhoc: {
          localUser: 'john',
          remote: { ...remote, password: undefined, admin: { user: 'a', password: 'x' } },
        },
      }),
    ).toMatch(/adhoc\.remote\.admin\.password: must be sealed/);
  });

  it('names what is wrong', () => {
    expect(failure({})).toContain('task: exactly one of task, adhoc is required');
    expect(failure({ task: 'a', adhoc: { localUser: 'j', remote } })).toContain('exactly one of task, adhoc');
    expect(failure({ adhoc: { localUser: 'a*b', remote } })).toContain(
      'adhoc.localUser: must not contain "*"',
    );
    expect(failure({ adhoc: { localUser: 'j', remote: { ...remote, password: undefined } } })).toContain(
      'adhoc.remote.password: exactly one of password, admin is required',
    );
    expect(failure({ task: 'a', bogus: 1 })).toContain('bogus');
    expect(failure({ adhoc: { localUser: 'j', remote, options: { maxAgeDays: 0 } } })).toContain(
      'adhoc.options.maxAgeDays',
    );
  });
});

describe('imapsync schedules', () => {
  it('schedules only the enabled tasks that ask for it', async () => {
    const { imapsyncJob } = await import('./index.js');
    const { parseConfig } = await import('../../config/load.js');
    const remote = '{ host: h, username: u, password: p }';
    const config = parseConfig(
      `sync:
  - { id: nightly, localUser: a, remote: ${remote}, schedule: { cron: "0 2 * * *", tz: Europe/Rome } }
  - { id: hourly, localUser: b, remote: ${remote}, schedule: { everyMinutes: 60 } }
  - { id: manual, localUser: c, remote: ${remote} }
  - { id: off, localUser: d, remote: ${remote}, schedule: { everyMinutes: 5 }, enabled: false }
`,
      '/tmp/mailjobs.yaml',
      {},
    );
    expect(imapsyncJob.schedules!(config)).toEqual([
      { id: 'imapsync:nightly', payload: { task: 'nightly' }, pattern: '0 2 * * *', tz: 'Europe/Rome' },
      { id: 'imapsync:hourly', payload: { task: 'hourly' }, everyMs: 3_600_000 },
    ]);
  });
});
