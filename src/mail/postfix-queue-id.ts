/**
 * Postfix queue ids, checked before any command sees one: a payload must not smuggle an
 * option (`-d -`) or anything else into postqueue/postsuper. Kept apart from postfix.ts so the
 * job contracts (and `mailjobs/client`) can use the pattern without loading process code.
 */
import { PermanentJobError } from '../core/errors.js';

// Postfix's "safe" alphabet for long queue ids: digits and letters without vowels; the inode
// part (after the `z` separator) is base 51, so it has no `z` (src/global/mail_queue.h).
const SAFE = '0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z';
const SAFE_NO_Z = '0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y';

/**
 * A queue id, unanchored: short form (hex microseconds + hex inode, e.g. `3F1A2B4C5D`) or long
 * form (`enable_long_queue_ids = yes`: base-52 time, `z`, base-51 inode, e.g. `4dXk9Z2mJ1vz8Qp`).
 */
export const QUEUE_ID_PATTERN = `(?:[0-9A-F]{6,24}|[${SAFE}]{10,16}z[${SAFE_NO_Z}]{1,16})`;
const QUEUE_ID_RE = new RegExp(`^${QUEUE_ID_PATTERN}$`);

/** Examples for error messages. */
export const QUEUE_ID_HINT = 'e.g. 3F1A2B4C5D, or a long id like 4dXk9Z2mJ1vz8Qp';

/** True when `id` has the form of a Postfix queue id (short or long). */
export function isQueueId(id: string): boolean {
  return QUEUE_ID_RE.test(id);
}

/** Throws `EQUEUEID` unless `id` is a queue id: checked again here, whatever the caller did. */
export function assertQueueId(id: string): void {
  if (!isQueueId(id)) {
    throw new PermanentJobError(
      `"${id.slice(0, 40)}" is not a Postfix queue id (${QUEUE_ID_HINT})`,
      'EQUEUEID',
    );
  }
}
