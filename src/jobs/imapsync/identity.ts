/**
 * When are two messages the same message? imapsync's rule, which migrations rely on: the same
 * Message-ID together with the same Date and Received lines; a message without Message-ID is
 * identified by a digest of its whole header. Whitespace is normalised (RFC 5322 2.2.3
 * unfolding; runs of blanks) so a server that refolds headers does not make a copy look new.
 */
import { createHash } from 'node:crypto';
import type { MessageIdentity } from '../../mail/imap-sync-fetch.js';

/** The header fields the identity reads (fetched with BODY.PEEK[HEADER.FIELDS (...)]). */
export const IDENTITY_FIELDS = ['message-id', 'date', 'received'] as const;

interface Field {
  name: string;
  value: string;
}

/** Unfolded header fields, names lower-cased, values with blank runs collapsed. */
function fields(header: Buffer): Field[] {
  const text = header.toString('latin1').replace(/\r?\n(?=[ \t])/g, '');
  const out: Field[] = [];
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out.push({
      name: line.slice(0, colon).trim().toLowerCase(),
      value: line
        .slice(colon + 1)
        .replace(/[ \t]+/g, ' ')
        .trim(),
    });
  }
  return out;
}

const digest = (text: string): string => createHash('sha256').update(text).digest('base64url').slice(0, 24);

/**
 * The identity from the Message-ID, Date and Received fields (as fetched by
 * {@link IDENTITY_FIELDS}); `undefined` when there is no Message-ID: then use
 * {@link headerIdentity} on the whole header.
 */
export function fieldsIdentity(selected: Buffer): string | undefined {
  const all = fields(selected);
  const messageId = all.find((f) => f.name === 'message-id')?.value.replace(/\s+/g, '');
  if (!messageId) return undefined;
  const date = all.find((f) => f.name === 'date')?.value ?? '';
  const received = all.filter((f) => f.name === 'received').map((f) => f.value);
  return `m${digest(['mid', messageId, 'date', date, 'received', ...received].join('\n'))}`;
}

/** The identity of a message without Message-ID: every header field, normalised. */
export function headerIdentity(header: Buffer): string {
  return `h${digest(
    fields(header)
      .map((f) => `${f.name}:${f.value}`)
      .join('\n'),
  )}`;
}

/** imapsync's rule, in the shape `fetchMeta` (src/mail/imap-sync-fetch.ts) reads. */
export const messageIdentity: MessageIdentity = {
  fields: IDENTITY_FIELDS,
  fromFields: fieldsIdentity,
  fromHeader: headerIdentity,
};
