import { describe, expect, it } from 'vitest';
import { sealWithKey } from '../../core/crypto.js';
import { InvalidPayloadError } from '../../core/errors.js';
import { parsePayload } from '../../worker/execute.js';
import { imapsyncContract } from './schema.js';

const sealed = sealWithKey('pw', Buffer.alloc(32, 1), {
  host: 'imap.example.com',
  port: 993,
  username: 'john@example.com',
  field: 'password',
});
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

  it('refuses a value sealed for no host (mjs1.), saying to seal it again', () => {
    const old = `mjs1.${'A'.repeat(60)}`;
    expect(failure({ adhoc: { localUser: 'john', remote: { ...remote, password: old } } })).toMatch(
      /adhoc\.remote\.password: sealed by an older mailjobs for no particular host \("mjs1\."\): seal it again for this host, port and user \(mailjobs seal --host/,
    );
  });

  it.each([
    ['imap.example.com\r\nX-Injected: 1', /white space, line breaks/],
    ['-oProxyCommand=evil', /must not start with "-"/],
    ['imap.example.com:993', /must be a host name/],
    ['[::1]', /must be a host name/],
    ['imap..example.com', /must be a host name/],
    ['under_score.example.com', /must be a host name/],
  ])('refuses the host %j', (host, problem) => {
    const msg = failure({ adhoc: { localUser: 'john', remote: { ...remote, host } } });
    expect(msg).toMatch(/adhoc\.remote\.host: /);
    expect(msg).toMatch(problem);
  });

  it('takes host names and IP literals', () => {
    for (const host of [
      'imap.example.com',
      'mail-1.example.co.uk',
      '192.0.2.7',
      '2001:db8::7',
      'localhost',
    ]) {
      expect(
        parsePayload(imapsyncContract, { adhoc: { localUser: 'john', remote: { ...remote, host } } }).adhoc!
          .remote.host,
      ).toBe(host);
    }
  });

  it('refuses a folder pattern that backtracks catastrophically, naming the field', () => {
    for (const [options, field] of [
      [{ exclude: ['^ok$', '(a+)+$'] }, 'adhoc.options.exclude[1]'],
      [{ include: ['(.*)*x'] }, 'adhoc.options.include[0]'],
      [{ include: ['.*a.*b'] }, 'adhoc.options.include[0]'],
    ] as const) {
      expect(failure({ adhoc: { localUser: 'john', remote, options } })).toContain(
        `invalid imapsync payload: ${field}: pattern refused: `,
      );
    }
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
