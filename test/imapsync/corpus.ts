/**
 * A generated mailbox for imapsync tests: nested folders (some non-ASCII, so their names travel
 * in modified UTF-7), special-use folders under names other servers give them, flags and
 * keywords, old INTERNALDATEs, a message twice in one folder, messages without Message-ID and
 * a message over the spool threshold. Seeded over IMAP APPEND with imapflow (not our code).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ImapFlow } from 'imapflow';
import type { DovecotFixture } from '../fixtures/dovecot.js';
import { masterSession as sharedMasterSession } from '../helpers/master-session.js';

export interface CorpusMessage {
  folder: string;
  raw: Buffer;
  flags: string[];
  internalDate: Date;
}

const FLAG_CYCLE: string[][] = [
  [],
  ['\\Seen'],
  ['\\Seen', '\\Flagged'],
  ['\\Answered', '\\Seen'],
  ['$Label1'],
  ['Work', '\\Seen'],
  ['\\Flagged'],
];

let serial = 0;

/** A plain message; `withId: false` leaves out Message-ID (the header still differs by Subject). */
export function makeMessage(
  tag: string,
  opts: { withId?: boolean; body?: string; date?: Date } = {},
): Buffer {
  const n = ++serial;
  const date = (opts.date ?? new Date(Date.UTC(2020, 0, 1) + n * 3_600_000))
    .toUTCString()
    .replace('GMT', '+0000');
  return Buffer.from(
    [
      'Received: from mx.example.org by imap.example.org; ' + date,
      'From: Bob <bob@example.org>',
      'To: alice@example.org',
      ...(opts.withId === false ? [] : [`Message-ID: <${tag}.${n}@example.org>`]),
      `Date: ${date}`,
      `Subject: ${tag} number ${n}`,
      '',
      opts.body ?? `Hello, this is message ${n} (${tag}).\r\nSecond line.\r\n`,
    ].join('\r\n'),
  );
}

/** A message of about `bytes` bytes (a base64 attachment). */
export function largeMessage(tag: string, bytes: number): Buffer {
  const b64 = randomBytes(Math.ceil((bytes * 3) / 4))
    .toString('base64')
    .replace(/.{76}/g, '$&\r\n');
  const body = [
    '--b1',
    'Content-Type: text/plain',
    '',
    'see attachment',
    '--b1',
    'Content-Type: application/octet-stream',
    'Content-Transfer-Encoding: base64',
    '',
    b64,
    '--b1--',
    '',
  ].join('\r\n');
  return makeMessage(tag, { body });
}

/**
 * The corpus of a remote with separator `sep`: folder paths use it. `perFolder` ordinary
 * messages per folder (INBOX gets three times as many), plus in INBOX one message twice, two
 * without Message-ID and one `largeBytes` message.
 */
export function corpus(sep: '.' | '/', perFolder = 6, largeBytes = 2_500_000): CorpusMessage[] {
  const folders = [
    'INBOX',
    'Sent Items',
    'Deleted Items',
    'Junk E-mail',
    'Drafts',
    'Archiv',
    'Projekte',
    `Projekte${sep}Überprüfung`,
    `Projekte${sep}2024${sep}Q1`,
    'Kunden & Partner',
    '日本語',
    'Alt',
    `Alt${sep}2019`,
  ];
  const out: CorpusMessage[] = [];
  let i = 0;
  const add = (folder: string, raw: Buffer, flags = FLAG_CYCLE[i % FLAG_CYCLE.length]!): void => {
    // Old INTERNALDATEs (2004 on), a day apart, so a wrong date cannot go unnoticed.
    out.push({
      folder,
      raw,
      flags,
      internalDate: new Date(Date.UTC(2004, 0, 1) + i * 86_400_000 + 1000 * i),
    });
    i++;
  };
  for (const folder of folders) {
    const count = folder === 'INBOX' ? perFolder * 3 : perFolder;
    for (let k = 0; k < count; k++) add(folder, makeMessage(`m${folder.length}-${k}`));
  }
  const twice = makeMessage('twice');
  add('INBOX', twice, ['\\Seen']);
  add('INBOX', twice, ['\\Seen']);
  add('INBOX', makeMessage('noid-a', { withId: false }));
  add('INBOX', makeMessage('noid-b', { withId: false }), ['\\Flagged']);
  add('INBOX', largeMessage('large', largeBytes), ['\\Seen']);
  add('Drafts', makeMessage('draft'), ['\\Draft']);
  return out;
}

/** An imapflow session as `user` (master login), not idling between the tests' commands. */
export const masterSession = (fx: DovecotFixture, user: string): Promise<ImapFlow> =>
  sharedMasterSession(fx, user, { disableAutoIdle: true });

/** APPENDs the corpus (creating its folders) into `user`'s mailbox, in order. */
export async function seed(
  fx: DovecotFixture,
  user: string,
  messages: readonly CorpusMessage[],
): Promise<void> {
  const client = await masterSession(fx, user);
  try {
    const existing = new Set((await client.list()).map((f) => f.path));
    for (const folder of new Set(messages.map((m) => m.folder))) {
      if (!existing.has(folder)) await client.mailboxCreate(folder);
    }
    for (const m of messages) await client.append(m.folder, m.raw, m.flags, m.internalDate);
  } finally {
    await client.logout();
  }
}

/** What must be equal between a source message and its copy. */
export interface Snapshot {
  uid: number;
  sha: string;
  flags: string;
  internalDate: number;
}

/** Every message of every selectable folder of `user`, read with BODY.PEEK[] (nothing marked seen). */
export async function snapshot(fx: DovecotFixture, user: string): Promise<Map<string, Snapshot[]>> {
  const client = await masterSession(fx, user);
  const out = new Map<string, Snapshot[]>();
  try {
    for (const f of await client.list()) {
      if (f.flags.has('\\Noselect') || f.flags.has('\\NonExistent')) continue;
      const box = await client.mailboxOpen(f.path, { readOnly: true });
      const list: Snapshot[] = [];
      if (box.exists > 0) {
        for await (const m of client.fetch('1:*', {
          uid: true,
          source: true,
          flags: true,
          internalDate: true,
        })) {
          list.push({
            uid: m.uid,
            sha: createHash('sha256').update(m.source!).digest('hex'),
            flags: [...(m.flags ?? [])]
              .filter((x) => x !== '\\Recent')
              .sort()
              .join(' '),
            internalDate: new Date(m.internalDate!).getTime(),
          });
        }
      }
      out.set(f.path, list);
    }
  } finally {
    await client.logout();
  }
  return out;
}

/** A folder's messages as comparable strings, sorted: equal multisets mean an exact copy. */
export function contents(list: readonly Snapshot[] | undefined): string[] {
  return (list ?? []).map((s) => `${s.sha} [${s.flags}] ${s.internalDate}`).sort();
}
