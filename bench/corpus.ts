/**
 * A deterministic mail corpus for the getmail bench, and a fast way to load it into a Dovecot
 * account: maildir files written directly (with `S=`/`W=` sizes in their names, so Dovecot
 * need not read them to answer LIST), then `doveadm force-resync`.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { chown, mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Pop3Client } from '../src/mail/pop3.js';
import type { DovecotFixture } from '../test/fixtures/dovecot.js';
import { run } from '../test/fixtures/service.js';

/** One message as Dovecot stores it (LF line endings). */
export interface CorpusMessage {
  messageId: string;
  kind: 'small' | 'text' | 'html' | 'attachment' | 'big' | 'huge';
  /** The stored bytes, LF line endings. */
  data: Buffer;
  /** Size on the wire (POP3 LIST): every LF counted as CRLF. */
  wireSize: number;
}

/** A 32-bit PRNG (mulberry32): the same seed gives the same corpus on every machine. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` pseudo-random bytes from `seed` (AES-CTR keystream: fast and deterministic). */
function noise(seed: string, n: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return cipher.update(Buffer.alloc(n));
}

const WORDS = (
  'the of and to in is you that it he was for on are as with his they at be this have from or one had by ' +
  'word but not what all were we when your can said there use an each which she do how their if will up ' +
  'other about out many then them these so some her would make like him into time has look two more write ' +
  'go see number no way could people my than first water been call who oil its now find long down day did ' +
  'get come made may part invoice meeting schedule report project quarterly budget review attached please ' +
  'regards thanks tomorrow deadline customer server mailbox delivery update'
).split(' ');

/** Plain text of about `bytes` bytes, in lines of at most 72 characters. */
function prose(next: () => number, bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  while (size < bytes) {
    let line = '';
    while (line.length < 60) line += `${WORDS[Math.floor(next() * WORDS.length)]} `;
    lines.push(line.trimEnd());
    size += line.length;
  }
  return lines.join('\n');
}

function base64Lines(data: Buffer): string {
  return (data.toString('base64').match(/.{1,76}/g) ?? []).join('\n');
}

function header(i: number, seed: number, subject: string, contentType: string): string {
  const date = new Date(Date.UTC(2024, 0, 1) + i * 60_000).toUTCString().replace('GMT', '+0000');
  return [
    `Return-Path: <sender${i % 97}@remote.example>`,
    `From: Sender ${i % 97} <sender${i % 97}@remote.example>`,
    'To: Bench User <user@bench.example>',
    `Subject: ${subject} #${i}`,
    `Date: ${date}`,
    `Message-ID: <bench-${seed}-${i}@remote.example>`,
    'MIME-Version: 1.0',
    `Content-Type: ${contentType}`,
  ].join('\n');
}

function build(
  i: number,
  seed: number,
  kind: CorpusMessage['kind'],
  next: () => number,
  hugeRaw = 0,
): string {
  const b = `=_b${seed}_${i}`;
  const between = (lo: number, hi: number) => Math.floor(lo + next() * (hi - lo));
  switch (kind) {
    case 'small':
      return `${header(i, seed, 'Ping', 'text/plain; charset=us-ascii')}\n\n${prose(next, between(1600, 3600))}\n`;
    case 'text':
      return `${header(i, seed, 'Note', 'text/plain; charset=us-ascii')}\n\n${prose(next, between(1800, 19_000))}\n`;
    case 'html': {
      const text = prose(next, between(100_000, 290_000) / 2);
      const html = `<html><body>\n${text.replace(/^(.*)$/gm, '<p style="margin:0">$1</p>')}\n</body></html>`;
      return [
        header(i, seed, 'Newsletter', `multipart/alternative; boundary="${b}"`),
        '',
        `--${b}`,
        'Content-Type: text/plain; charset=us-ascii',
        '',
        text.slice(0, 4000),
        `--${b}`,
        'Content-Type: text/html; charset=us-ascii',
        '',
        html,
        `--${b}--`,
        '',
      ].join('\n');
    }
    case 'attachment':
    case 'big':
    case 'huge': {
      const raw = kind === 'attachment' ? between(75_000, 220_000) : kind === 'big' ? 1 << 20 : hugeRaw;
      return [
        header(i, seed, 'Document', `multipart/mixed; boundary="${b}"`),
        '',
        `--${b}`,
        'Content-Type: text/plain; charset=us-ascii',
        '',
        prose(next, between(500, 3000)),
        `--${b}`,
        `Content-Type: application/pdf; name="doc-${i}.pdf"`,
        'Content-Transfer-Encoding: base64',
        `Content-Disposition: attachment; filename="doc-${i}.pdf"`,
        '',
        base64Lines(noise(`${seed}/${i}`, raw)),
        `--${b}--`,
        '',
      ].join('\n');
    }
  }
}

function toMessage(
  i: number,
  seed: number,
  kind: CorpusMessage['kind'],
  next: () => number,
  hugeRaw?: number,
): CorpusMessage {
  const data = Buffer.from(build(i, seed, kind, next, hugeRaw), 'latin1');
  let lf = 0;
  for (let p = data.indexOf(10); p !== -1; p = data.indexOf(10, p + 1)) lf++;
  return { messageId: `bench-${seed}-${i}@remote.example`, kind, data, wireSize: data.length + lf };
}

/**
 * The realistic mix: 80% text of 2–20 KB, 10% HTML and 9% attachments of 100–300 KB, 1% with
 * a 1 MB attachment (1.37 MB base64), shuffled by `seed`.
 */
export function makeCorpus(count: number, seed: number): CorpusMessage[] {
  const next = rng(seed);
  const big = Math.round(count * 0.01);
  const html = Math.round(count * 0.1);
  const attachment = Math.round(count * 0.09);
  const kinds: CorpusMessage['kind'][] = [
    ...Array<'big'>(big).fill('big'),
    ...Array<'html'>(html).fill('html'),
    ...Array<'attachment'>(attachment).fill('attachment'),
    ...Array<'text'>(Math.max(0, count - big - html - attachment)).fill('text'),
  ];
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  return kinds.map((kind, i) => toMessage(i, seed, kind, next));
}

/** `count` small text messages (2–4 KB), for the no-change poll and the many-accounts run. */
export function makeSmallCorpus(count: number, seed: number): CorpusMessage[] {
  const next = rng(seed);
  return Array.from({ length: count }, (_, i) => toMessage(i, seed, 'small', next));
}

/** One message of `mib` MiB on the wire (50: a base64 attachment of about 36.5 MiB). */
export function makeHugeMessage(seed: number, mib = 50): CorpusMessage {
  // 57 raw bytes become one 76-character base64 line plus CRLF: 78 bytes on the wire.
  return toMessage(0, seed, 'huge', rng(seed), Math.floor((mib * 2 ** 20 * 57) / 78));
}

/** Total wire bytes of `messages`. */
export function wireBytes(messages: readonly CorpusMessage[]): number {
  return messages.reduce((sum, m) => sum + m.wireSize, 0);
}

/**
 * Puts `messages` into `user`'s INBOX on `fx` (a user made with `addUser`), as maildir files
 * owned by the `mail` user, then has Dovecot index them. Much faster than LMTP for 10k messages.
 */
export async function loadMaildir(
  fx: DovecotFixture,
  user: string,
  messages: readonly CorpusMessage[],
): Promise<void> {
  const maildir = path.join(fx.dir, 'mail', user, 'Maildir');
  const home = path.dirname(maildir);
  const { uid, gid } = await stat(home);
  for (const sub of ['', 'cur', 'new', 'tmp']) {
    await mkdir(path.join(maildir, sub), { recursive: true, mode: 0o700 });
    await chown(path.join(maildir, sub), uid, gid);
  }
  const base = 1_700_000_000;
  for (let i = 0; i < messages.length; i += 64) {
    await Promise.all(
      messages.slice(i, i + 64).map(async (m, k) => {
        const n = i + k;
        const file = path.join(
          maildir,
          'cur',
          `${base + n}.M${n}P1.bench,S=${m.data.length},W=${m.wireSize}:2,`,
        );
        await writeFile(file, m.data, { mode: 0o600 });
        await chown(file, uid, gid);
      }),
    );
  }
  const r = await doveadm(fx, ['force-resync', '-u', user, 'INBOX']);
  if (r.code !== 0) throw new Error(`doveadm force-resync -u ${user} failed (exit ${r.code}): ${r.stderr}`);
  const count = await messageCount(fx, user);
  if (count !== messages.length) {
    throw new Error(`loading ${user}: Dovecot sees ${count} messages, expected ${messages.length}`);
  }
}

/** `doveadm` against `fx`, with room for 10k-message mailboxes (the fixture's own allows 30 s). */
function doveadm(fx: DovecotFixture, args: readonly string[]) {
  return run('doveadm', ['-c', fx.configFile, ...args], { timeoutMs: 300_000 });
}

/** Messages in `user`'s INBOX, as Dovecot counts them (`doveadm mailbox status`). */
export async function messageCount(fx: DovecotFixture, user: string): Promise<number> {
  const r = await doveadm(fx, ['mailbox', 'status', '-u', user, 'messages', 'INBOX']);
  if (r.code !== 0) throw new Error(`doveadm mailbox status -u ${user} failed (exit ${r.code}): ${r.stderr}`);
  const m = /messages=(\d+)/.exec(r.stdout);
  if (!m) throw new Error(`doveadm mailbox status -u ${user}: unexpected output ${JSON.stringify(r.stdout)}`);
  return Number(m[1]);
}

/** Distinct Message-IDs in `user`'s INBOX: catches a tool that delivered one message twice. */
export async function distinctMessageIds(fx: DovecotFixture, user: string): Promise<number> {
  const r = await doveadm(fx, ['fetch', '-u', user, 'hdr.message-id', 'mailbox', 'INBOX', 'all']);
  if (r.code !== 0) throw new Error(`doveadm fetch -u ${user} failed (exit ${r.code}): ${r.stderr}`);
  return new Set(r.stdout.match(/<[^>\s]+>/g) ?? []).size;
}

/**
 * One POP3 session (UIDL, LIST) on a freshly loaded account, so Dovecot's index and caches
 * are built before any tool is timed, and no tool pays for being first.
 */
export async function warmUp(fx: DovecotFixture, user: string, password: string): Promise<void> {
  const client = await Pop3Client.connect({
    host: '127.0.0.1',
    port: fx.pop3Port,
    security: 'none',
    verifyCertificate: false,
    connectTimeoutMs: 10_000,
    commandTimeoutMs: 120_000,
  });
  try {
    await client.login(user, password);
    await Promise.all([client.uidl(), client.list()]);
    await client.quit();
  } finally {
    client.close();
  }
}
