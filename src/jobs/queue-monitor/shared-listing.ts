/**
 * The queue listing for many readers at once (the dashboard's Queue page, where every visitor's
 * browser asks): one `postqueue -j` at a time whoever asks, concurrent requests for the same
 * page share one run, and a page is reused for `ttlMs` after it was read. Ten browsers on the
 * page cost Postfix one listing, not ten processes at once.
 */
import type { PostfixCallOptions, PostfixTarget } from '../../mail/postfix.js';
import { listQueue, parseQueueListQuery, type QueueListPage, type QueueListQuery } from './listing.js';

interface Entry {
  readonly page: Promise<QueueListPage>;
  /** When the listing ended (ms); unset while it runs. */
  doneAt?: number;
}

export class SharedQueueListing {
  private readonly entries = new Map<string, Entry>();
  /** The last listing started: the next one waits for it. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ttlMs = 2000,
    private readonly list: typeof listQueue = listQueue,
  ) {}

  /**
   * `listQueue`'s page, shared as above; an invalid query throws `InvalidPayloadError` at once.
   * `changes` names the last change the caller knows of (queue-monitor's last action): a page
   * read before it is not reused, so the listing asked for after a delete shows it done.
   */
  async get(
    target: PostfixTarget,
    raw: QueueListQuery,
    opts: PostfixCallOptions = {},
    changes = '',
  ): Promise<QueueListPage> {
    const query = parseQueueListQuery(raw);
    const now = Date.now();
    for (const [k, e] of this.entries)
      if (e.doneAt !== undefined && now - e.doneAt >= this.ttlMs) this.entries.delete(k);
    const key = JSON.stringify([target, query, changes]);
    const have = this.entries.get(key);
    if (have) return have.page;
    const page = this.tail.then(() => this.list(target, query, opts));
    const entry: Entry = { page };
    this.tail = page.catch(() => undefined);
    this.entries.set(key, entry);
    // A failure is shared by those already waiting, never kept for the next request.
    page.then(
      () => (entry.doneAt = Date.now()),
      () => this.entries.delete(key),
    );
    return page;
  }
}
