/**
 * The Queue page's listing, for the dashboard and other services: filtered (queue, sender,
 * recipient, age), ordered by arrival, paged with a cursor. `postqueue -j` is streamed and only
 * the page being built is kept (at most `limit` messages), so 100,000 queued messages never
 * sit in memory at once; every page costs one pass over the queue.
 *
 * ```ts
 * const page = await listQueue(config.postfix, { queue: ['deferred'], sender: 'example.org', limit: 50 });
 * const next = await listQueue(config.postfix, { queue: ['deferred'], sender: 'example.org', after: page.nextCursor });
 * ```
 */
import { z } from 'zod';
import { formatPath } from '../../config/load.js';
import { InvalidPayloadError } from '../../core/errors.js';
import { QUEUE_ID_PATTERN } from '../../mail/postfix-queue-id.js';
import { forEachQueued, POSTFIX_QUEUES, type PostfixTarget, type QueuedMessage } from '../../mail/postfix.js';

export const queueListQuery = z.strictObject({
  /** Only these queues (default: all). */
  queue: z.array(z.enum(POSTFIX_QUEUES)).min(1).optional(),
  /** Sender contains this (case-insensitive); `<>` matches the null sender of bounces. */
  sender: z.string().min(1).max(320).optional(),
  /** Some recipient contains this (case-insensitive). */
  recipient: z.string().min(1).max(320).optional(),
  /** Queued at least / at most this long ago. */
  minAgeSeconds: z.number().int().min(0).optional(),
  maxAgeSeconds: z.number().int().min(0).optional(),
  order: z.enum(['oldest', 'newest']).default('oldest'),
  limit: z.number().int().min(1).max(1000).default(50),
  /** `nextCursor` of the previous page. */
  after: z
    .string()
    .regex(new RegExp(`^\\d+\\.${QUEUE_ID_PATTERN}$`), 'not a cursor from a previous page')
    .optional(),
});

export type QueueListQuery = z.input<typeof queueListQuery>;

export interface QueueListPage {
  messages: QueuedMessage[];
  /** Messages matching the filters in the whole queue (all pages). */
  matched: number;
  /** Messages `postqueue -j` reported. */
  scanned: number;
  /** Pass as `after` for the next page; absent on the last page. */
  nextCursor?: string;
  /** When the queue was read (ms). */
  listedAt: number;
}

/** Parses a query; an invalid one throws `InvalidPayloadError` naming each bad field. */
export function parseQueueListQuery(raw: unknown): z.output<typeof queueListQuery> {
  const r = queueListQuery.safeParse(raw);
  if (r.success) return r.data;
  const fields = r.error.issues.map((i) => `${formatPath(i.path) || '(query)'}: ${i.message}`);
  throw new InvalidPayloadError(`invalid queue listing query: ${fields.join('; ')}`);
}

type Filter = (m: QueuedMessage) => boolean;

function filterOf(q: z.output<typeof queueListQuery>, now: number): Filter {
  const queues = q.queue ? new Set<string>(q.queue) : undefined;
  const sender = q.sender?.toLowerCase();
  const recipient = q.recipient?.toLowerCase();
  const newest = q.minAgeSeconds === undefined ? Infinity : now - q.minAgeSeconds * 1000;
  const oldest = q.maxAgeSeconds === undefined ? -Infinity : now - q.maxAgeSeconds * 1000;
  return (m) =>
    (!queues || queues.has(m.queue)) &&
    m.arrivalTime <= newest &&
    m.arrivalTime >= oldest &&
    (sender === undefined || (sender === '<>' ? m.sender === '' : m.sender.toLowerCase().includes(sender))) &&
    (recipient === undefined || m.recipients.some((r) => r.address.toLowerCase().includes(recipient)));
}

/** Negative when `a` comes first in `order` (arrival time, then queue id, so the order is total). */
function comparator(order: 'oldest' | 'newest') {
  const sign = order === 'oldest' ? 1 : -1;
  return (a: { arrivalTime: number; queueId: string }, b: { arrivalTime: number; queueId: string }) =>
    sign * (a.arrivalTime - b.arrivalTime || (a.queueId < b.queueId ? -1 : a.queueId > b.queueId ? 1 : 0));
}

function cursorOf(m: QueuedMessage): string {
  return `${m.arrivalTime}.${m.queueId}`;
}

/** Where `m` goes in the sorted `list` (after its equals): binary search, O(log limit). */
function insertionPoint<T>(list: readonly T[], m: T, cmp: (a: T, b: T) => number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(m, list[mid]!) < 0) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** One page of the queue; see the module comment. */
export async function listQueue(
  target: PostfixTarget,
  rawQuery: QueueListQuery,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<QueueListPage> {
  const q = parseQueueListQuery(rawQuery);
  const listedAt = Date.now();
  const matches = filterOf(q, listedAt);
  const cmp = comparator(q.order);
  const cursor = q.after
    ? {
        arrivalTime: Number(q.after.slice(0, q.after.indexOf('.'))),
        queueId: q.after.slice(q.after.indexOf('.') + 1),
      }
    : undefined;
  const page: QueuedMessage[] = []; // sorted, at most `limit` + 1 entries
  const onPage = new Set<string>(); // Postfix may report a message twice while it moves
  let matched = 0;
  let scanned = 0;
  let afterCursor = 0;
  await forEachQueued(
    target,
    (m) => {
      scanned++;
      if (!matches(m)) return;
      matched++;
      if (cursor && cmp(m, cursor) <= 0) return;
      if (onPage.has(m.queueId)) return;
      afterCursor++;
      if (page.length >= q.limit && cmp(m, page[page.length - 1]!) >= 0) return;
      page.splice(insertionPoint(page, m, cmp), 0, m);
      onPage.add(m.queueId);
      if (page.length > q.limit) onPage.delete(page.pop()!.queueId);
    },
    opts,
  );
  const last = page[page.length - 1];
  return {
    messages: page,
    matched,
    scanned,
    ...(afterCursor > page.length && last ? { nextCursor: cursorOf(last) } : {}),
    listedAt,
  };
}
