/**
 * The alert mails: RFC 5322 messages with a plain text body, marked `Auto-Submitted:
 * auto-generated` (RFC 3834) so vacation responders and the like leave them alone. The text
 * comes from the conditions alone (no secret, no message content).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ActiveAlert, ClearedAlert } from './state.js';

export interface AlertMail {
  from: string;
  to: string;
  subject: string;
  /** Lines of the body (no line endings). */
  lines: string[];
  date?: Date;
}

/** RFC 5322 3.3 date-time in UTC: `Sat, 05 Dec 2026 08:17:18 +0000`. */
export function rfc5322Date(d: Date): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}

/** An unstructured header value: ASCII as is, anything else as one RFC 2047 encoded word per chunk. */
function headerText(text: string): string {
  const clean = text.replace(/[\r\n]+/g, ' ');
  if (/^[\x20-\x7e]*$/.test(clean)) return clean;
  const words: string[] = [];
  let chunk = '';
  for (const ch of clean) {
    if (Buffer.byteLength(chunk + ch) > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w).toString('base64')}?=`).join('\r\n ');
}

/** The message in wire form (CRLF line ends, UTF-8 body sent as 8bit). */
export function composeMail(m: AlertMail): Buffer {
  const domain = m.from.slice(m.from.lastIndexOf('@') + 1) || hostname();
  const headers = [
    `From: ${m.from}`,
    `To: ${m.to}`,
    `Subject: ${headerText(m.subject)}`,
    `Date: ${rfc5322Date(m.date ?? new Date())}`,
    `Message-ID: <${Date.now().toString(36)}.${randomBytes(8).toString('hex')}@${domain}>`,
    'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  return Buffer.from(`${headers.join('\r\n')}\r\n\r\n${m.lines.join('\r\n')}\r\n`);
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

const since = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/** `[mailjobs mail1] 2 problems started, 1 cleared` and its body. */
export function postmasterMail(
  host: string,
  news: { started: ActiveAlert[]; cleared: ClearedAlert[]; ongoing: ActiveAlert[] },
): { subject: string; lines: string[] } {
  const parts = [
    ...(news.started.length ? [`${plural(news.started.length, 'problem', 'problems')} started`] : []),
    ...(news.cleared.length ? [`${news.cleared.length} cleared`] : []),
  ];
  const section = (title: string, list: ActiveAlert[], when: (a: ActiveAlert) => string): string[] =>
    list.length ? [title, ...list.map((a) => `  - ${a.text} (${when(a)})`), ''] : [];
  return {
    subject: `[mailjobs ${host}] ${parts.join(', ')}`,
    lines: [
      ...section('Started:', news.started, (a) => `since ${since(a.since)}`),
      ...section(
        'Cleared:',
        news.cleared,
        (a) => `${since(a.since)} to ${since((a as ClearedAlert).clearedAt)}`,
      ),
      ...section('Still going on:', news.ongoing, (a) => `since ${since(a.since)}`),
      `See \`mailjobs status\` or the dashboard on ${host}.`,
      'One mail when a problem starts, one when it clears; changes within alerts.minIntervalMinutes wait for the next mail.',
    ],
  };
}

/** What a connector's owner reads about their own external account. */
export function userMail(
  host: string,
  started: ActiveAlert[],
  cleared: ClearedAlert[],
): { subject: string; lines: string[] } {
  return {
    subject: started.length
      ? `[mailjobs ${host}] fetching mail from your external account fails`
      : `[mailjobs ${host}] fetching mail from your external account works again`,
    lines: [
      ...started.map((a) => `Problem: ${a.text}`),
      ...cleared.map((a) => `Solved: ${a.text}`),
      '',
      'If your external password changed, give the new one to your mail administrator.',
    ],
  };
}
