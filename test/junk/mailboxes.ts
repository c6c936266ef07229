/** IMAP helpers for the Junk tests: put messages with a chosen saved date, read folders back. */
import { masterSession } from '../helpers/master-session.js';
import type { DovecotFixture } from '../fixtures/dovecot.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** A message with enough real words for Bayes (Rspamd refuses very short ones). */
export function textMessage(id: string, subject: string, body: string): Buffer {
  return Buffer.from(
    [
      'From: Sender Example <sender@example.com>',
      'To: someone@example.org',
      `Subject: ${subject}`,
      `Message-ID: <${id}@example.com>`,
      'Date: Mon, 16 Mar 2026 10:00:00 +0000',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      body,
      '',
    ].join('\r\n'),
  );
}

const WORDS =
  'price offer money account bank transfer urgent winner lottery claim prize discount pharmacy watches replica casino bonus investment crypto profit guaranteed'.split(
    ' ',
  );

/** A message with plenty of distinct words, so Bayes takes it (`extraBytes` pads it). */
export function wordyMessage(id: string, extraBytes = 0): Buffer {
  const body = Array.from(
    { length: 60 },
    (_, i) => `${WORDS[(i * 7 + id.length) % WORDS.length]}${i % 5 === 0 ? id : ''}`,
  ).join(' ');
  return textMessage(id, `Offer ${id}`, `${body}\r\n${'x'.repeat(extraBytes)}`);
}

/** Appends messages to `folder` (created if missing), each saved `daysAgo` days ago. */
export async function putMessages(
  fx: DovecotFixture,
  user: string,
  folder: string,
  messages: { id: string; daysAgo: number }[],
): Promise<void> {
  const client = await masterSession(fx, user);
  try {
    if (!(await client.list()).some((f) => f.path === folder)) await client.mailboxCreate(folder);
    for (const m of messages) {
      const saved = new Date(Date.now() - m.daysAgo * DAY_MS);
      await client.append(folder, textMessage(m.id, `message ${m.id}`, `Body of ${m.id}.`), [], saved);
    }
  } finally {
    await client.logout();
  }
}

/** The Message-ID local parts in `folder`, sorted ('(missing)' when the folder does not exist). */
export async function idsIn(fx: DovecotFixture, user: string, folder: string): Promise<string[]> {
  const client = await masterSession(fx, user);
  try {
    if (!(await client.list()).some((f) => f.path === folder)) return ['(missing)'];
    const box = await client.mailboxOpen(folder, { readOnly: true });
    if (box.exists === 0) return [];
    const ids: string[] = [];
    for await (const m of client.fetch('1:*', { envelope: true })) {
      ids.push(m.envelope?.messageId?.replace(/^<|@.*$/g, '') ?? '?');
    }
    return ids.sort();
  } finally {
    await client.logout();
  }
}
