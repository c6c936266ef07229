import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  deleteQueued,
  flushMessage,
  flushQueue,
  forEachQueued,
  isQueueId,
  type PostfixTarget,
  type QueuedMessage,
} from './postfix.js';

/**
 * Fake postqueue/postsuper: they record their arguments (one per line) and print what the test
 * put in `<name>.out` / `<name>.err`, exiting with `<name>.code`. No real Postfix needed.
 */
function fakePostfix(): { target: PostfixTarget; calls(): string[][]; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mailjobs-fakepostfix-'));
  for (const name of ['postqueue', 'postsuper']) {
    const script = join(dir, name);
    writeFileSync(
      script,
      `#!/bin/sh
d=$(dirname "$0")
{ echo "--- ${name}"; printf '%s\\n' "$@"; } >> "$d/calls"
[ -f "$d/${name}.out" ] && cat "$d/${name}.out"
[ -f "$d/${name}.err" ] && cat "$d/${name}.err" >&2
exit $(cat "$d/${name}.code" 2>/dev/null || echo 0)
`,
    );
    chmodSync(script, 0o755);
  }
  return {
    dir,
    target: { configDir: '/etc/postfix-test', commandDirectory: dir },
    calls: () =>
      existsSync(join(dir, 'calls'))
        ? readFileSync(join(dir, 'calls'), 'utf8')
            .split('--- ')
            .filter(Boolean)
            .map((c) => c.trim().split('\n'))
        : [],
  };
}

const record = (id: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    queue_name: 'deferred',
    queue_id: id,
    arrival_time: 1_795_599_846,
    message_size: 270,
    forced_expire: false,
    sender: 'alice@example.org',
    recipients: [
      { address: 'bob@example.net', delay_reason: 'connect to 127.0.0.1[127.0.0.1]:25: Connection refused' },
    ],
    ...extra,
  });

let fake: ReturnType<typeof fakePostfix>;
beforeEach(() => {
  fake = fakePostfix();
});

describe('queue ids', () => {
  it('accepts short (hex) and long (enable_long_queue_ids) ids', () => {
    for (const id of ['E4ACC210004', '3F1A2B4C5D', '4dXk9Z2mJ1vz8Qp', '4fMyQn6Wbvz3x8'])
      expect(isQueueId(id), id).toBe(true);
  });

  it('refuses options, shell syntax, paths, lower-case hex and ALL', () => {
    for (const id of [
      '',
      '-d',
      '-f',
      'ALL',
      'e4acc210004',
      'E4ACC210004 -f',
      'E4ACC210004\n',
      '$(reboot)',
      '../deferred/E4ACC210004',
      'E4ACC;rm',
    ])
      expect(isQueueId(id), JSON.stringify(id)).toBe(false);
  });
});

describe('postqueue -j', () => {
  it('streams each record, as an argument array with -c', async () => {
    writeFileSync(
      join(fake.dir, 'postqueue.out'),
      `${record('E4ACC210004')}\n${record('3F1A2B4C5D', { queue_name: 'hold', sender: '', recipients: [{ address: 'x@y' }] })}\n`,
    );
    const seen: QueuedMessage[] = [];
    await forEachQueued(fake.target, (m) => seen.push(m));
    expect(fake.calls()).toEqual([['postqueue', '-c', '/etc/postfix-test', '-j']]);
    expect(seen).toEqual([
      {
        queueId: 'E4ACC210004',
        queue: 'deferred',
        arrivalTime: 1_795_599_846_000,
        size: 270,
        sender: 'alice@example.org',
        recipients: [
          {
            address: 'bob@example.net',
            delayReason: 'connect to 127.0.0.1[127.0.0.1]:25: Connection refused',
          },
        ],
        forcedExpire: false,
      },
      expect.objectContaining({
        queueId: '3F1A2B4C5D',
        queue: 'hold',
        sender: '',
        recipients: [{ address: 'x@y' }],
      }),
    ]);
  });

  it("fails with the command and postqueue's fatal line when it exits non-zero", async () => {
    writeFileSync(
      join(fake.dir, 'postqueue.err'),
      'postqueue: fatal: open /etc/postfix-test/main.cf: No such file or directory\n',
    );
    writeFileSync(join(fake.dir, 'postqueue.code'), '69');
    await expect(forEachQueued(fake.target, () => undefined)).rejects.toMatchObject({
      name: 'ProtocolError',
      code: 'EPOSTFIX',
      message: expect.stringContaining('open /etc/postfix-test/main.cf: No such file or directory'),
    });
  });

  it('refuses output that is not postqueue -j records', async () => {
    writeFileSync(join(fake.dir, 'postqueue.out'), '-Queue ID-  --Size-- ----Arrival Time----\n');
    await expect(forEachQueued(fake.target, () => undefined)).rejects.toMatchObject({ code: 'EPROTOCOL' });
  });

  it('names the missing command when Postfix is not installed there', async () => {
    const target = { ...fake.target, commandDirectory: join(fake.dir, 'nowhere') };
    await expect(forEachQueued(target, () => undefined)).rejects.toMatchObject({
      code: 'ENOPOSTFIX',
      message: expect.stringContaining(join(fake.dir, 'nowhere', 'postqueue')),
    });
  });
});

describe('queue actions', () => {
  it('resend all / one and delete map to postqueue -f, -i QID and postsuper -d', async () => {
    writeFileSync(
      join(fake.dir, 'postsuper.err'),
      'postsuper: E4ACC210004: removed\npostsuper: Deleted: 1 message\n',
    );
    await flushQueue(fake.target);
    await flushMessage(fake.target, 'E4ACC210004');
    expect(await deleteQueued(fake.target, 'E4ACC210004')).toBe(1);
    writeFileSync(join(fake.dir, 'postsuper.err'), 'postsuper: Deleted: 12 messages\n');
    expect(await deleteQueued(fake.target, 'ALL')).toBe(12);
    expect(fake.calls()).toEqual([
      ['postqueue', '-c', '/etc/postfix-test', '-f'],
      ['postqueue', '-c', '/etc/postfix-test', '-i', 'E4ACC210004'],
      ['postsuper', '-c', '/etc/postfix-test', '-d', 'E4ACC210004'],
      ['postsuper', '-c', '/etc/postfix-test', '-d', 'ALL'],
    ]);
  });

  it('runs nothing for a malformed queue id', async () => {
    await expect(flushMessage(fake.target, '-f')).rejects.toMatchObject({ code: 'EQUEUEID' });
    await expect(deleteQueued(fake.target, 'E4ACC210004 ALL')).rejects.toMatchObject({ code: 'EQUEUEID' });
    await expect(deleteQueued(fake.target, '$(rm -rf /)')).rejects.toThrow(/is not a Postfix queue id/);
    expect(fake.calls()).toEqual([]);
  });
});
