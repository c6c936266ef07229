/**
 * Release with "learn as ham" against a real Rspamd: the released message is taught as ham once
 * (bayes-learn's dedup: the same message released again is not learned twice), and a release
 * whose learn fails (controller away) still delivers, with the failure reported.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { learn, stat } from '../../src/mail/rspamd.js';
import { withoutQuarantineFields } from '../../src/jobs/quarantine/headers.js';
import { releaseMessage } from '../../src/jobs/quarantine/release.js';
import { freePort } from '../fixtures/ports.js';
import { startRedis, type RedisFixture } from '../fixtures/redis.js';
import { startRspamd, type RspamdFixture } from '../fixtures/rspamd.js';
import {
  type World,
  actionContext,
  append,
  configFile,
  inbox,
  indexed,
  quarantined,
  runJob,
  setup,
  startWorld,
} from './world.js';

let w: World;
let bayesRedis: RedisFixture;
let rspamd: RspamdFixture;
beforeAll(async () => {
  [w, bayesRedis] = await Promise.all([startWorld(), startRedis()]);
  rspamd = await startRspamd({ redisUrl: bayesRedis.url });
}, 240_000);
afterAll(async () => {
  await rspamd?.stop();
  await Promise.allSettled([w?.stop(), bayesRedis?.stop()]);
});

const WORDS =
  'meeting budget quarterly report invoice schedule project review planning garden weekend family recipe holiday travel concert library museum'.split(
    ' ',
  );
const BODY = Array.from({ length: 80 }, (_, i) => WORDS[(i * 7) % WORDS.length]).join(' ');

describe('release with learn as ham', () => {
  it('teaches Rspamd the message as ham once; a failed learn does not stop the release', async () => {
    const s = await setup(w, 'ham');
    const rspamdLine = (url: string) =>
      `rspamd: { controllerUrl: "${url}", passwordFile: ${rspamd.passwordFile}, timeoutSeconds: 10 }`;
    const file = configFile(w, s, 'notify: off', { extra: [rspamdLine(rspamd.controllerUrl)] });
    const message = quarantined({ to: [s.alice], subject: 'Family holiday plans', body: BODY });
    await append(w, s.quarantine, message);
    await append(w, s.quarantine, message);
    await runJob(file);
    const [second, first] = await indexed(w, s);
    const ctx = actionContext(file, s);
    const controller = { controllerUrl: rspamd.controllerUrl, password: rspamd.password };
    try {
      expect(await releaseMessage(first!.id, { by: 'ann', learnHam: true }, ctx)).toMatchObject({
        learnHam: 'learned',
      });
      // Learns through this controller count at once (the per-class counters lag 30-60 s).
      expect((await stat(controller)).learnedSinceStart).toBe(1);
      // The same message again: bayes-learn's record says it is ham already.
      expect(await releaseMessage(second!.id, { by: 'ann', learnHam: true }, ctx)).toMatchObject({
        learnHam: 'already-learned',
      });
      expect((await stat(controller)).learnedSinceStart).toBe(1);
      expect(await inbox(w, s.alice)).toHaveLength(2);
      // Rspamd has it as ham: learning it as ham again is its 208, "already learned".
      const again = await learn('ham', withoutQuarantineFields(Buffer.from(message)), controller);
      expect(again).toMatchObject({ learned: false, alreadyLearned: true });
    } finally {
      await ctx.close();
    }

    await append(w, s.quarantine, quarantined({ to: [s.bob], subject: 'Controller away', body: BODY }));
    const away = configFile(w, s, 'notify: off', {
      extra: [rspamdLine(`http://127.0.0.1:${await freePort()}`)],
    });
    await runJob(away);
    const [third] = await indexed(w, s);
    const ctx2 = actionContext(away, s);
    try {
      const r = await releaseMessage(third!.id, { by: 'ann', learnHam: true }, ctx2);
      expect(r).toMatchObject({ delivered: [s.bob], learnHam: expect.stringMatching(/^failed: /) });
      expect(await inbox(w, s.bob)).toHaveLength(1);
      expect(await indexed(w, s)).toEqual([]);
    } finally {
      await ctx2.close();
    }
  });
});
