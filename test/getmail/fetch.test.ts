/**
 * getmail end to end against real services: a remote Dovecot (POP3/IMAP over TLS and
 * STARTTLS) fetched into a local Dovecot over LMTP, read back as `user*vmail`.
 */
import { describe, expect, it } from 'vitest';
import { deliverTo, mailbox, message, runGetmail, traces, useWorld, writeWorldConfig } from './world.js';

const w = useWorld();

/** 8-bit text, invalid UTF-8, a broken MIME structure and dot-lines: all must arrive byte for byte. */
const awkward = [
  Buffer.concat([
    message('eightbit', 'Caf\u00e9 cr\u00e8me \u2014 8-bit\r\n.dot line\r\n..two\r\n'),
    Buffer.from([0xff, 0xfe, 0x41, 0x0d, 0x0a]),
  ]),
  message('broken-mime', '--nowhere\r\nContent-Type: text/plain\r\n\r\nno closing boundary\r\n', [
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="missing"',
  ]),
];

/** The local copy is: Dovecot's Return-Path, our two headers, then the remote bytes unchanged. */
function expectExactCopy(local: Buffer, remote: Buffer, account: string) {
  const text = local.toString('latin1');
  expect(text).toMatch(
    /^Return-Path: <[^>]*>\r\nReceived: from 127\.0\.0\.1 \(account [^)]+\)\r\n\tby .+\r\n\tfor <[^>]+>; .+\r\nX-Mailjobs-Fetched: /,
  );
  expect(text).toContain(`X-Mailjobs-Fetched: ${account} `);
  expect(local.subarray(local.length - remote.length).equals(remote)).toBe(true);
}

describe.each([
  { protocol: 'pop3' as const, security: 'tls' as const },
  { protocol: 'imap' as const, security: 'starttls' as const },
])('getmail over $protocol/$security', ({ protocol, security }) => {
  it('delivers each message once and byte for byte; a rerun fetches nothing, then only what is new', async () => {
    const remoteUser = await w.remote.addUser(`r-${protocol}`);
    const localUser = await w.local.addUser(`l-${protocol}`);
    await deliverTo(w.remote, remoteUser.user, [message(`${protocol}-1`), ...awkward]);
    const remoteBefore = await mailbox(w.remote, remoteUser.user);
    const account = `${protocol}@remote.test`;
    const config = writeWorldConfig(w, [
      {
        id: account,
        protocol,
        security,
        user: remoteUser.user,
        password: remoteUser.password,
        deliverTo: localUser.user,
      },
    ]);

    const first = await runGetmail(config, account);
    // `run` prints the job's trail: one line per message with its Message-ID, size and outcome
    expect(first.err.split('\n').sort()).toEqual([
      expect.stringMatching(/^<broken-mime@example\.org> \d+ bytes: delivered$/),
      expect.stringMatching(/^<eightbit@example\.org> \d+ bytes: delivered$/),
      expect.stringMatching(new RegExp(`^<${protocol}-1@example\\.org> \\d+ bytes: delivered$`)),
    ]);
    expect(first.result).toMatchObject({ account, fetched: 3, delivered: 3, failed: 0, deletedRemote: 0 });
    const local = await mailbox(w.local, localUser.user);
    expect(local).toHaveLength(3);
    expect(new Set(traces(local)).size).toBe(3);
    for (const r of remoteBefore) {
      const id = /Message-ID: (<[^>]+>)/.exec(r.source.toString('latin1'))![1]!;
      const copies = local.filter((l) => l.source.toString('latin1').includes(`Message-ID: ${id}`));
      expect(copies).toHaveLength(1);
      expectExactCopy(copies[0]!.source, r.source, account);
    }
    // the remote copies stay; over IMAP, BODY.PEEK did not mark them read (POP3 servers do on RETR)
    const remoteAfter = await mailbox(w.remote, remoteUser.user);
    expect(remoteAfter).toHaveLength(3);
    if (protocol === 'imap') expect(remoteAfter.filter((m) => m.flags.has('\\Seen'))).toHaveLength(0);

    const again = await runGetmail(config, account);
    expect(again.result).toMatchObject({ fetched: 0, delivered: 0 });
    await deliverTo(w.remote, remoteUser.user, [message(`${protocol}-4`), message(`${protocol}-5`)]);
    const third = await runGetmail(config, account);
    expect(third.result).toMatchObject({ fetched: 2, delivered: 2 });
    expect(await mailbox(w.local, localUser.user)).toHaveLength(5);
  });
});

describe('getmail remote deletion', () => {
  it('delete: immediately removes what was delivered, only after delivery', async () => {
    const remoteUser = await w.remote.addUser('r-del');
    const localUser = await w.local.addUser('l-del');
    await deliverTo(w.remote, remoteUser.user, [message('del-1'), message('del-2')]);
    const config = writeWorldConfig(w, [
      {
        id: 'del@remote.test',
        protocol: 'pop3',
        user: remoteUser.user,
        password: remoteUser.password,
        deliverTo: localUser.user,
        delete: 'immediately',
      },
    ]);
    const run = await runGetmail(config, 'del@remote.test');
    expect(run.result).toMatchObject({ delivered: 2, deletedRemote: 2 });
    expect(await mailbox(w.remote, remoteUser.user)).toHaveLength(0);
    expect(await mailbox(w.local, localUser.user)).toHaveLength(2);
  });

  it('delete: afterDays keeps messages until they are that old (IMAP)', async () => {
    const remoteUser = await w.remote.addUser('r-days');
    const localUser = await w.local.addUser('l-days');
    await deliverTo(w.remote, remoteUser.user, [message('days-1')]);
    const prefix = `days${Date.now()}`;
    const config = writeWorldConfig(
      w,
      [
        {
          id: 'days@remote.test',
          protocol: 'imap',
          user: remoteUser.user,
          password: remoteUser.password,
          deliverTo: localUser.user,
          delete: '{ afterDays: 2 }',
        },
      ],
      '',
      prefix,
    );
    expect((await runGetmail(config, 'days@remote.test')).result).toMatchObject({
      delivered: 1,
      deletedRemote: 0,
    });
    expect(await mailbox(w.remote, remoteUser.user)).toHaveLength(1);
    // age the retrieval record by three days, as if the message had been fetched then
    const { Redis } = await import('ioredis');
    const r = new Redis(w.redis.url);
    const key = `{${prefix}}:state:getmail:days@remote.test:seen`;
    const field = (await r.hkeys(key)).find((f) => f.includes(':')); // a message key, not the state mark
    await r.hset(key, field!, Date.now() - 3 * 86_400_000);
    await r.quit();
    expect((await runGetmail(config, 'days@remote.test')).result).toMatchObject({
      delivered: 0,
      deletedRemote: 1,
    });
    expect(await mailbox(w.remote, remoteUser.user)).toHaveLength(0);
    expect(await mailbox(w.local, localUser.user)).toHaveLength(1);
  });
});
