/**
 * Release and delete against a real Dovecot: each original recipient gets the message once,
 * intact but for the quarantine's header changes, even when the release is retried after its
 * connection was cut between recipients or after Dovecot stored a message whose answer was lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteMessage, releaseMessage } from '../../src/jobs/quarantine/release.js';
import { QuarantineStore } from '../../src/jobs/quarantine/store.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import {
  type World,
  actionContext,
  append,
  configFile,
  escapeRegExp,
  inbox,
  indexed,
  quarantined,
  runJob,
  setup,
  startWorld,
  withoutHeaders,
} from './world.js';

let w: World;
beforeAll(async () => {
  w = await startWorld();
});
afterAll(async () => {
  await w?.stop();
});

const BODY = 'Dear friend,\r\n.leading dot line\r\n\r\nthe end';

/**
 * What Dovecot stores on release (Return-Path on top; its own trace headers are off in the
 * fixture): the original with the contract's fields gone and the trace on top.
 */
function released(original: string, trace: RegExp): RegExp {
  const rest = escapeRegExp(withoutHeaders(original, /^X-Quarantine-/i));
  return new RegExp(
    `^Return-Path: <spammer@spam\\.example>\\r\\nX-Mailjobs-Released: ${trace.source}\\r\\n${rest}$`,
  );
}

describe('release and delete', () => {
  it('release: both recipients get it once, intact but for the header changes; gone from quarantine and index', async () => {
    const s = await setup(w, 'rel');
    const file = configFile(w, s, 'notify: off');
    const original = quarantined({ to: [s.alice, s.bob], subject: 'Not spam after all', body: BODY });
    await append(w, s.quarantine, original);
    await runJob(file);
    const [item] = await indexed(w, s);
    const ctx = actionContext(file, s);
    try {
      const r = await releaseMessage(item!.id, { by: 'admin-ann' }, ctx);
      expect(r).toEqual({ id: item!.id, delivered: [s.alice, s.bob], alreadyDelivered: [] });
      const trace = new RegExp(
        `by admin-ann at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ; quarantine id ${item!.id}`,
      );
      for (const user of [s.alice, s.bob]) {
        const box = await inbox(w, user);
        expect(box).toHaveLength(1);
        expect(box[0]!.source).toMatch(released(original, trace));
      }
      expect(await inbox(w, s.quarantine)).toEqual([]);
      expect(await indexed(w, s)).toEqual([]);
      const audit = await new QuarantineStore(ctx.redis, ctx.key).actions();
      expect(audit).toEqual([
        expect.objectContaining({
          action: 'release',
          by: 'admin-ann',
          id: item!.id,
          recipients: [s.alice, s.bob],
        }),
      ]);
      await expect(releaseMessage(item!.id, { by: 'admin-ann' }, ctx)).rejects.toMatchObject({
        code: 'ENOTFOUND',
      });
    } finally {
      await ctx.close();
    }
  });

  it('a release retried after crashes between recipients delivers each recipient once', async () => {
    const s = await setup(w, 'crash');
    const proxy = await TcpProxy.start(w.dovecot.lmtpPort);
    try {
      const viaProxy = configFile(w, s, 'notify: off', { lmtpPort: proxy.port });
      const original = quarantined({ to: [s.alice, s.bob], subject: 'Crashy release', body: BODY });
      await append(w, s.quarantine, original);
      await runJob(viaProxy);
      const [item] = await indexed(w, s);
      const ctx = actionContext(viaProxy, s);
      const saved = (p: { direction: string; chunk: Buffer }) =>
        p.direction === 'down' && /^250 2\.0\.0 .* Saved/m.test(p.chunk.toString());
      try {
        // 1: Dovecot stores it for alice, the answer is lost: alice is "attempting".
        void proxy.cutOn(saved);
        await expect(releaseMessage(item!.id, { by: 'ann' }, ctx)).rejects.toMatchObject({
          code: 'ECONNECTION',
        });
        expect(await inbox(w, s.alice)).toHaveLength(1);
        expect(await inbox(w, s.bob)).toHaveLength(0);
        // 2: alice is found in her mailbox, not delivered again; bob's answer is lost in turn.
        void proxy.cutOn(saved);
        await expect(releaseMessage(item!.id, { by: 'ann' }, ctx)).rejects.toMatchObject({
          code: 'ECONNECTION',
        });
        expect(await inbox(w, s.bob)).toHaveLength(1);
        expect(await indexed(w, s)).toHaveLength(1);
        expect(await inbox(w, s.quarantine)).toHaveLength(1);
        // 3: both had it: nothing is delivered, the message leaves the quarantine.
        const r = await releaseMessage(item!.id, { by: 'bob-admin' }, ctx);
        expect(r).toEqual({ id: item!.id, delivered: [], alreadyDelivered: [s.alice, s.bob] });
        const trace = new RegExp(`by ann at \\S+Z; quarantine id ${item!.id}`);
        for (const user of [s.alice, s.bob]) {
          const box = await inbox(w, user);
          expect(box).toHaveLength(1);
          expect(box[0]!.source).toMatch(released(original, trace));
        }
        expect(await inbox(w, s.quarantine)).toEqual([]);
        expect(await indexed(w, s)).toEqual([]);
      } finally {
        await ctx.close();
      }
    } finally {
      await proxy.close();
    }
  });

  it('a connection cut before the second recipient: the retry delivers only the second', async () => {
    const s = await setup(w, 'cut2');
    const proxy = await TcpProxy.start(w.dovecot.lmtpPort);
    try {
      const viaProxy = configFile(w, s, 'notify: off', { lmtpPort: proxy.port });
      await append(
        w,
        s.quarantine,
        quarantined({ to: [s.alice, s.bob], subject: 'Cut before bob', body: BODY }),
      );
      await runJob(viaProxy);
      const [item] = await indexed(w, s);
      const ctx = actionContext(viaProxy, s);
      try {
        void proxy.cutOn((p) => p.direction === 'up' && p.chunk.toString().includes(`RCPT TO:<${s.bob}>`));
        await expect(releaseMessage(item!.id, { by: 'ann' }, ctx)).rejects.toMatchObject({
          code: 'ECONNECTION',
        });
        const r = await releaseMessage(item!.id, { by: 'ann' }, ctx);
        expect(r).toEqual({ id: item!.id, delivered: [s.bob], alreadyDelivered: [s.alice] });
        expect(await inbox(w, s.alice)).toHaveLength(1);
        expect(await inbox(w, s.bob)).toHaveLength(1);
      } finally {
        await ctx.close();
      }
    } finally {
      await proxy.close();
    }
  });

  it('a message without envelope is refused with the reason, and stays; delete removes it', async () => {
    const s = await setup(w, 'noenv');
    const file = configFile(w, s, 'notify: off');
    await append(w, s.quarantine, quarantined({ contract: false, subject: 'Unknown envelope', body: BODY }));
    await runJob(file);
    const [item] = await indexed(w, s);
    const ctx = actionContext(file, s);
    try {
      await expect(releaseMessage(item!.id, { by: 'ann' }, ctx)).rejects.toMatchObject({
        code: 'ENOTRELEASABLE',
        message: `quarantined message ${item!.id} cannot be released: no original envelope (X-Quarantine-From/To missing); delete it instead`,
      });
      expect(await inbox(w, s.quarantine)).toHaveLength(1);
      await deleteMessage(item!.id, { by: 'ann' }, ctx);
      expect(await inbox(w, s.quarantine)).toEqual([]);
      expect(await indexed(w, s)).toEqual([]);
      expect(await new QuarantineStore(ctx.redis, ctx.key).actions()).toEqual([
        expect.objectContaining({ action: 'delete', by: 'ann', id: item!.id }),
      ]);
      await expect(deleteMessage('nonsense', { by: 'ann' }, ctx)).rejects.toMatchObject({ code: 'EPAYLOAD' });
    } finally {
      await ctx.close();
    }
  });

  it('a recipient Dovecot refuses for good is named; the others have it once; the message stays', async () => {
    const s = await setup(w, 'gone');
    const file = configFile(w, s, 'notify: off');
    const ghost = `ghost-gone@mail.test.local`;
    await append(
      w,
      s.quarantine,
      quarantined({ to: [s.alice, ghost], subject: 'One recipient left', body: BODY }),
    );
    await runJob(file);
    const [item] = await indexed(w, s);
    const ctx = actionContext(file, s);
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        await expect(releaseMessage(item!.id, { by: 'ann' }, ctx)).rejects.toMatchObject({
          code: 'EREFUSED',
          message: expect.stringMatching(
            new RegExp(
              `not released to ${ghost}: .*550.*; 1 recipient\\(s\\) have it, the message stays in quarantine$`,
            ),
          ),
        });
      }
      expect(await inbox(w, s.alice)).toHaveLength(1);
      expect(await inbox(w, s.quarantine)).toHaveLength(1);
      expect(await indexed(w, s)).toHaveLength(1);
    } finally {
      await ctx.close();
    }
  });
});
