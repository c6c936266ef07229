/**
 * The quarantine's index in Redis: one entry per message of the quarantine mailbox, by a stable
 * id `<uidvalidity>-<uid>` (RFC 3501 2.3.1.1: a UID means something only with its UIDVALIDITY).
 * The mailbox is the source of truth: each run adds what is new there and drops what is gone.
 * An entry and its "to be notified" mark are written in one MULTI, so a message indexed is a
 * message that will be notified (with `notify` on), whatever crashes in between.
 */
import type { RedisClient } from '../../core/redis.js';
import type { QuarantineSymbol } from './headers.js';

/** One quarantined message as the index knows it: headers and verdict, never the body. */
export interface QuarantineItem {
  id: string;
  uidValidity: string;
  uid: number;
  /** When it was saved into the quarantine mailbox (INTERNALDATE), ISO 8601. */
  savedAt: string;
  /** X-Quarantine-Date, when given. */
  quarantinedAt?: string;
  /** Envelope sender (`''` the null sender); absent when unknown. */
  from?: string;
  /** Original envelope recipients. */
  to: string[];
  /** The From: header as shown. */
  headerFrom: string;
  subject: string;
  messageId?: string;
  score?: number;
  threshold?: number;
  action?: string;
  symbols: QuarantineSymbol[];
  size: number;
  queueId?: string;
  /** Why it cannot be released; absent when it can. */
  notReleasable?: string;
}

/** `<uidvalidity>-<uid>`. */
export const quarantineId = (uidValidity: string, uid: number): string => `${uidValidity}-${uid}`;

/** A well-formed id (what the CLI and the dashboard accept). */
export const QUARANTINE_ID = /^\d{1,10}-\d{1,10}$/;

/** What the pages and the CLI search: sender, recipients, subject (case-insensitive). */
export function matchesSearch(item: QuarantineItem, search: string | undefined): boolean {
  const needle = search?.trim().toLowerCase();
  if (!needle) return true;
  return [item.from ?? '', item.headerFrom, ...item.to, item.subject].some((v) =>
    v.toLowerCase().includes(needle),
  );
}

/** One audit line: who released or deleted what. */
export interface QuarantineAction {
  at: number;
  by: string;
  action: 'release' | 'delete' | 'expire';
  id: string;
  subject?: string;
  recipients?: string[];
}

const AUDIT_KEEP = 1000;

export class QuarantineStore {
  private readonly items: string;
  private readonly dates: string;
  private readonly notify: string;
  private readonly audit: string;
  readonly digestAtKey: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly key: (...parts: string[]) => string,
  ) {
    this.items = key('quarantine', 'items');
    this.dates = key('quarantine', 'dates');
    this.notify = key('quarantine', 'notify');
    this.audit = key('quarantine', 'audit');
    this.digestAtKey = key('quarantine', 'digest-at');
  }

  /** How many messages the index holds. */
  count(): Promise<number> {
    return this.redis.zcard(this.dates);
  }

  /** Every id in the index. */
  ids(): Promise<string[]> {
    return this.redis.hkeys(this.items);
  }

  async get(id: string): Promise<QuarantineItem | undefined> {
    const raw = await this.redis.hget(this.items, id);
    return raw ? (JSON.parse(raw) as QuarantineItem) : undefined;
  }

  /** Indexes `items`; with `notify`, marks each to be notified, in the same transaction. */
  async add(items: readonly QuarantineItem[], notify: boolean): Promise<void> {
    if (items.length === 0) return;
    const m = this.redis.multi();
    for (const item of items) {
      m.hset(this.items, item.id, JSON.stringify(item));
      m.zadd(this.dates, Date.parse(item.savedAt), item.id);
      if (notify) m.sadd(this.notify, item.id);
    }
    await m.exec();
  }

  /** Drops `ids` from the index and from the notifications still due. */
  async drop(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.redis
      .multi()
      .hdel(this.items, ...ids)
      .zrem(this.dates, ...ids)
      .srem(this.notify, ...ids)
      .exec();
  }

  /** Newest first, filtered by `search`; `total` counts the matches. */
  async list(
    opts: { search?: string; offset?: number; limit?: number } = {},
  ): Promise<{ total: number; items: QuarantineItem[] }> {
    const ids = await this.redis.zrevrange(this.dates, 0, -1);
    const all: QuarantineItem[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const raws = await this.redis.hmget(this.items, ...chunk);
      for (const raw of raws) if (raw) all.push(JSON.parse(raw) as QuarantineItem);
    }
    const matched = all.filter((item) => matchesSearch(item, opts.search));
    const offset = opts.offset ?? 0;
    return { total: matched.length, items: matched.slice(offset, offset + (opts.limit ?? matched.length)) };
  }

  /** Indexed messages whose notification has not been sent yet, oldest first. */
  async dueForNotification(): Promise<QuarantineItem[]> {
    const ids = await this.redis.smembers(this.notify);
    if (ids.length === 0) return [];
    const raws = await this.redis.hmget(this.items, ...ids);
    const items = raws.flatMap((r) => (r ? [JSON.parse(r) as QuarantineItem] : []));
    const gone = ids.filter((id) => !items.some((i) => i.id === id));
    if (gone.length) await this.redis.srem(this.notify, ...gone);
    return items.sort((a, b) => a.savedAt.localeCompare(b.savedAt) || a.uid - b.uid);
  }

  /** Marks `ids` as notified. */
  async notified(ids: readonly string[]): Promise<void> {
    if (ids.length) await this.redis.srem(this.notify, ...ids);
  }

  /** Appends one audit line (the newest {@link AUDIT_KEEP} are kept). */
  async record(action: QuarantineAction): Promise<void> {
    await this.redis
      .multi()
      .lpush(this.audit, JSON.stringify(action))
      .ltrim(this.audit, 0, AUDIT_KEEP - 1)
      .exec();
  }

  /** The newest audit lines first. */
  async actions(limit = 100): Promise<QuarantineAction[]> {
    return (await this.redis.lrange(this.audit, 0, limit - 1)).map((l) => JSON.parse(l) as QuarantineAction);
  }
}
