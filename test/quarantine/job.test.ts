/**
 * The quarantine job against a real Dovecot and Postfix: what an admin checks is the index
 * (`mailjobs quarantine list`), the postmaster's mailbox and the quarantine mailbox.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { freePort } from '../fixtures/ports.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { exited } from '../helpers/worker-process.js';
import {
  type World,
  append,
  cli,
  configFile,
  inbox,
  indexed,
  quarantined,
  runJob,
  setup,
  startWorld,
  waitForMail,
} from './world.js';

let w: World;
beforeAll(async () => {
  w = await startWorld();
});
afterAll(async () => {
  await w?.stop();
});

const BODY = 'BODY-TEXT-must-never-leave-the-quarantine <b>click here</b>';

describe('the quarantine job', () => {
  it('indexes each message once; notify each: one mail per message to the postmaster, without body', async () => {
    const s = await setup(w, 'each');
    const file = configFile(w, s);
    await append(w, s.quarantine, quarantined({ to: [s.alice, s.bob], subject: 'Cheap pills', body: BODY }));
    await append(w, s.quarantine, quarantined({ contract: false, subject: 'No envelope', body: BODY }));

    expect(await runJob(file)).toMatchObject({
      enabled: true,
      messages: 2,
      indexed: 2,
      notified: 2,
      expunged: 0,
    });
    const mails = await waitForMail(w, s.postmaster, 2);
    expect(mails.map((m) => m.subject).sort()).toEqual([
      expect.stringMatching(/\] quarantined: Cheap pills$/),
      expect.stringMatching(/\] quarantined: No envelope$/),
    ]);
    for (const m of mails) {
      expect(m.source).not.toContain('BODY-TEXT');
      expect(m.source).not.toContain('click here');
      expect(m.source).toMatch(/^Auto-Submitted: auto-generated\r?$/m);
    }
    const pills = mails.find((m) => m.subject.endsWith('Cheap pills'))!.source;
    expect(pills).toContain(`Envelope to:    ${s.alice}, ${s.bob}`);
    expect(pills).toContain('Envelope from:  spammer@spam.example');
    expect(pills).toContain('Symbols:        GTUBE(1000.00), R_DKIM_NA(0.00), MIME_GOOD(-0.10)');
    expect(pills).toContain('Queue id:       4ABC123DEF');
    const noEnvelope = mails.find((m) => m.subject.endsWith('No envelope'))!.source;
    expect(noEnvelope).toContain('Not releasable: no original envelope (X-Quarantine-From/To missing)');

    // A second run finds nothing new and mails nothing; a third message is the next mail.
    expect(await runJob(file)).toMatchObject({ messages: 2, indexed: 0, notified: 0 });
    await append(w, s.quarantine, quarantined({ to: [s.alice], subject: 'Third', body: BODY }));
    expect(await runJob(file)).toMatchObject({ messages: 3, indexed: 1, notified: 1 });
    const after = await waitForMail(w, s.postmaster, 3);
    expect(after.filter((m) => m.subject.endsWith('Cheap pills'))).toHaveLength(1);
    expect(after.filter((m) => m.subject.endsWith('Third'))).toHaveLength(1);

    const items = await indexed(w, s);
    expect(items).toHaveLength(3);
    expect(items.find((i) => i.subject === 'Cheap pills')).toMatchObject({
      id: expect.stringMatching(/^\d+-1$/),
      from: 'spammer@spam.example',
      to: [s.alice, s.bob],
      score: 1015.2,
      threshold: 15,
      queueId: '4ABC123DEF',
      headerFrom: 'Spammer <spammer@spam.example>',
    });
    expect(JSON.stringify(items)).not.toContain('BODY-TEXT');

    const status = await cli(['status', 'quarantine', '--config', file]);
    expect(status.code, status.err).toBe(0);
    expect(status.out).toMatch(
      new RegExp(
        `^ {4}${s.quarantine} {2}3 message\\(s\\) in quarantine; last run ok \\d+ s ago \\(\\d\\d:\\d\\d\\), 1 new, 1 notified, 0 expunged$`,
        'm',
      ),
    );
  });

  it('a notification that cannot be sent stays due and goes once Postfix takes it', async () => {
    const s = await setup(w, 'retry');
    const down = configFile(w, s, '', { smtpPort: await freePort() });
    await append(w, s.quarantine, quarantined({ to: [s.alice], subject: 'While down', body: BODY }));
    const failed = await runJob(down);
    expect(failed).toMatchObject({
      indexed: 1,
      notified: 0,
      mailError: expect.stringMatching(/^smtp 127\.0\.0\.1:\d+: /),
    });
    expect(await runJob(down)).toMatchObject({ indexed: 0, notified: 0 });
    const up = configFile(w, s);
    expect(await runJob(up)).toMatchObject({ indexed: 0, notified: 1 });
    expect(await runJob(up)).toMatchObject({ notified: 0 });
    expect((await waitForMail(w, s.postmaster, 1))[0]!.subject).toMatch(/quarantined: While down$/);
  });

  it('notify digest: nothing before the digest, then one mail listing every new message, once', async () => {
    const s = await setup(w, 'digest');
    const file = configFile(w, s, 'notify: digest, digestCron: "0 8 1 1 *"');
    await append(w, s.quarantine, quarantined({ to: [s.alice], subject: 'Digest one', body: BODY }));
    await append(w, s.quarantine, quarantined({ to: [s.bob], subject: 'Digest two', body: BODY }));
    expect(await runJob(file)).toMatchObject({ indexed: 2, notified: 0 });
    expect(await runJob(file, '{"digestNow":true}')).toMatchObject({ indexed: 0, notified: 2 });
    expect(await runJob(file, '{"digestNow":true}')).toMatchObject({ notified: 0 });
    await append(w, s.quarantine, quarantined({ to: [s.bob], subject: 'Digest three', body: BODY }));
    expect(await runJob(file, '{"digestNow":true}')).toMatchObject({ indexed: 1, notified: 1 });
    const mails = await waitForMail(w, s.postmaster, 2);
    const first = mails.find((m) => /quarantine: 2 new messages$/.test(m.subject))!;
    expect(first.source).toContain('Subject:        Digest one');
    expect(first.source).toContain('Subject:        Digest two');
    expect(first.source).not.toContain('Digest three');
    expect(first.source).not.toContain('BODY-TEXT');
    const second = mails.find((m) => /quarantine: 1 new message$/.test(m.subject))!;
    expect(second.source).toContain('Subject:        Digest three');
  });

  it('expunges what was saved before the retention, and drops it from the index', async () => {
    const s = await setup(w, 'retention');
    await append(
      w,
      s.quarantine,
      quarantined({ to: [s.alice], subject: 'Old', body: BODY }),
      new Date(Date.now() - 40 * 86_400_000),
    );
    await append(
      w,
      s.quarantine,
      quarantined({ to: [s.alice], subject: 'Recent', body: BODY }),
      new Date(Date.now() - 20 * 86_400_000),
    );
    expect(await runJob(configFile(w, s, 'notify: off, retentionDays: 60'))).toMatchObject({
      indexed: 2,
      notified: 0,
    });
    const file = configFile(w, s, 'notify: off, retentionDays: 30');
    expect(await runJob(file)).toMatchObject({ expunged: 1, dropped: 1, messages: 1, indexed: 0 });
    expect((await inbox(w, s.quarantine)).map((m) => m.subject)).toEqual(['Recent']);
    expect((await indexed(w, s)).map((i) => i.subject)).toEqual(['Recent']);
  });

  it('a run killed (kill -9) while it mails: after the restart each message is notified once', async () => {
    const s = await setup(w, 'kill');
    const proxy = await TcpProxy.start(w.postfix.smtpPort);
    try {
      const file = configFile(w, s, '', { smtpPort: proxy.port });
      for (const n of [1, 2, 3])
        await append(w, s.quarantine, quarantined({ to: [s.alice], subject: `Killed ${n}`, body: BODY }));
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'src/cli.ts', 'run', 'quarantine', '{}', '--config', file],
        { stdio: 'ignore' },
      );
      // The second notification's envelope is on its way: the process dies there.
      const killed = proxy.cutOn((p) => {
        const dies = p.connection === 2 && p.direction === 'up' && /^DATA\r?$/m.test(p.chunk.toString());
        if (dies) child.kill('SIGKILL');
        return dies;
      });
      await killed;
      await exited(child);
      expect(child.signalCode).toBe('SIGKILL');
      expect(await runJob(file)).toMatchObject({ indexed: 0, notified: 2 });
      const mails = await waitForMail(w, s.postmaster, 3);
      expect(mails.map((m) => m.subject.replace(/^.*quarantined: /, '')).sort()).toEqual([
        'Killed 1',
        'Killed 2',
        'Killed 3',
      ]);
      expect(await runJob(file)).toMatchObject({ notified: 0 });
    } finally {
      await proxy.close();
    }
  });
});
