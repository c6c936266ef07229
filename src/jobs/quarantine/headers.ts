/**
 * The header contract between the Rspamd/Postfix side (contrib/) and this job: Rspamd adds
 * `X-Quarantine-*` fields to a message it would have rejected, and delivers it to the
 * quarantine mailbox only. Parsing is pure: a header block in, what the job may trust out.
 *
 * Rspamd strips every `X-Quarantine-*` field arriving from outside before adding its own, so
 * what is here came from Rspamd; still, the first occurrence of each single-valued field wins
 * and position in the block does not matter. Without `X-Quarantine-From` and at least one
 * valid `X-Quarantine-To` the message has no known envelope: it is indexed, never released.
 */
import { isSmtpMailbox } from '../../mail/smtp-address.js';

/** Every header field of the contract starts with this (case-insensitive, RFC 5322 1.2.2). */
export const QUARANTINE_FIELD_PREFIX = 'x-quarantine-';

/** The field added on release (one, at the top). */
export const RELEASED_FIELD = 'X-Mailjobs-Released';

/** One Rspamd symbol of the verdict. */
export interface QuarantineSymbol {
  name: string;
  score: number;
}

/** What the contract's fields say about one quarantined message. */
export interface QuarantineVerdict {
  /** Envelope sender: `''` is the null sender `<>`; undefined when the field is missing or bad. */
  from?: string;
  /** Original envelope recipients, in order, without duplicates. */
  to: string[];
  queueId?: string;
  action?: string;
  score?: number;
  threshold?: number;
  symbols: QuarantineSymbol[];
  /** X-Quarantine-Date as given (ISO 8601, UTC), when it parses as a date. */
  quarantinedAt?: string;
  /** Why the message cannot be released; undefined when it can. */
  notReleasable?: string;
}

/** The header block of a message (up to the first empty line), fields unfolded (RFC 5322 2.2.3). */
export function headerFields(raw: Buffer | string): { name: string; value: string }[] {
  const text = typeof raw === 'string' ? raw : raw.toString('latin1');
  const end = /\r?\n\r?\n/.exec(text);
  const block = end ? text.slice(0, end.index) : text;
  const out: { name: string; value: string }[] = [];
  for (const line of block.replace(/\r?\n(?=[ \t])/g, '').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() });
  }
  return out;
}

/** `<a@b>` → `a@b`, `<>` → `''`; undefined for anything that is not one valid path. */
function envelopeAddress(value: string, allowNull: boolean): string | undefined {
  const m = /^<([^<>]*)>$/.exec(value.trim());
  if (!m) return undefined;
  const address = m[1]!.trim();
  if (address === '') return allowNull ? '' : undefined;
  return isSmtpMailbox(address) ? address : undefined;
}

/** `1015.20/15.00` → score and threshold. */
function parseScore(value: string | undefined): { score?: number; threshold?: number } {
  const m = /^(-?\d+(?:\.\d+)?)\s*\/\s*(-?\d+(?:\.\d+)?)$/.exec(value ?? '');
  return m ? { score: Number(m[1]), threshold: Number(m[2]) } : {};
}

/** `GTUBE(1000.00), R_DKIM_NA(0.00)` → symbols; anything else in the list is skipped. */
function parseSymbols(value: string | undefined): QuarantineSymbol[] {
  const out: QuarantineSymbol[] = [];
  for (const m of (value ?? '').matchAll(/([A-Za-z0-9_.-]+)\s*\(\s*(-?\d+(?:\.\d+)?)\s*\)/g)) {
    out.push({ name: m[1]!, score: Number(m[2]) });
  }
  return out;
}

/** Reads the contract's fields of a header block (or a whole message: the body is ignored). */
export function parseQuarantineHeaders(raw: Buffer | string): QuarantineVerdict {
  const fields = headerFields(raw).filter((f) => f.name.startsWith(QUARANTINE_FIELD_PREFIX));
  const first = (name: string): string | undefined =>
    fields.find((f) => f.name === `${QUARANTINE_FIELD_PREFIX}${name}`)?.value;
  const fromField = first('from');
  const from = fromField === undefined ? undefined : envelopeAddress(fromField, true);
  const toFields = fields.filter((f) => f.name === `${QUARANTINE_FIELD_PREFIX}to`).map((f) => f.value);
  const to: string[] = [];
  const badTo: string[] = [];
  for (const value of toFields) {
    const address = envelopeAddress(value, false);
    if (address === undefined) badTo.push(value);
    else if (!to.some((t) => t.toLowerCase() === address.toLowerCase())) to.push(address);
  }
  const date = first('date');
  const queueId = first('queue-id');
  const action = first('action');
  const verdict: QuarantineVerdict = {
    ...(from !== undefined ? { from } : {}),
    to,
    ...(queueId ? { queueId } : {}),
    ...(action ? { action } : {}),
    ...parseScore(first('score')),
    symbols: parseSymbols(first('symbols')),
    ...(date && !Number.isNaN(Date.parse(date)) ? { quarantinedAt: date } : {}),
  };
  const reason =
    fromField === undefined || toFields.length === 0
      ? 'no original envelope (X-Quarantine-From/To missing)'
      : from === undefined
        ? `X-Quarantine-From is not one address in angle brackets: ${JSON.stringify(fromField.slice(0, 100))}`
        : badTo.length > 0
          ? `X-Quarantine-To is not one address in angle brackets: ${JSON.stringify(badTo[0]!.slice(0, 100))}`
          : undefined;
  return reason ? { ...verdict, notReleasable: reason } : verdict;
}

/**
 * Fields the way into the quarantine added besides the contract, dropped with it: the
 * quarantine mailbox's own `Return-Path` (the release's delivery adds the recipients' one) and
 * the `X-Rspamd-Action: reject` Rspamd's milter adds to a message whose action it did not apply.
 */
const DELIVERY_FIELDS = ['return-path:', 'x-rspamd-action:'];

/**
 * The message without its `X-Quarantine-*` fields and {@link DELIVERY_FIELDS} (each with its
 * folded lines): every other byte, the body included, as it was. What is learned as ham on release.
 */
export function withoutQuarantineFields(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  const end = /\r?\n\r?\n/.exec(text);
  const headerEnd = end ? end.index + end[0].indexOf('\n') + 1 : text.length;
  const kept: string[] = [];
  let dropping = false;
  for (const line of text.slice(0, headerEnd).split(/(?<=\n)/)) {
    if (!/^[ \t]/.test(line)) {
      const lower = line.toLowerCase();
      dropping =
        lower.startsWith(QUARANTINE_FIELD_PREFIX) || DELIVERY_FIELDS.some((f) => lower.startsWith(f));
    }
    if (!dropping) kept.push(line);
  }
  // latin1 maps each byte to one character: string offsets are byte offsets.
  return Buffer.concat([Buffer.from(kept.join(''), 'latin1'), raw.subarray(headerEnd)]);
}

/** The message as it is released: {@link withoutQuarantineFields}, `trace` added as the first field. */
export function releasedMessage(raw: Buffer, trace: string): Buffer {
  const stripped = withoutQuarantineFields(raw);
  const firstEol = stripped.indexOf('\n');
  const eol = firstEol > 0 && stripped[firstEol - 1] !== 0x0d ? '\n' : '\r\n';
  return Buffer.concat([Buffer.from(`${RELEASED_FIELD}: ${trace}${eol}`, 'latin1'), stripped]);
}
