/**
 * What bayes-learn remembers in Redis, under `{prefix}:state:bayes-learn:`:
 * - `learned:<sha256>`: `<class>:<movedAt>` of the last learn of that message, expiring after
 *   `bayesLearn.learnedRetentionDays` (so the dedup state cannot grow without bound);
 * - `counts`: a hash of outcome → how many (learned-spam, learned-ham, already-learned,
 *   not-a-trainer, too-big, superseded, too-few-words), for `mailjobs status`.
 */
import type { RedisClient } from '../../core/redis.js';

export type LearnClass = 'spam' | 'ham';

/** The last learn of one message. */
export interface LearnedRecord {
  class: LearnClass;
  movedAt: number;
}

export class LearnedStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: (...parts: string[]) => string,
    private readonly ttlSeconds: number,
  ) {}

  async get(digest: string): Promise<LearnedRecord | undefined> {
    const raw = await this.redis.get(this.key('bayes-learn', 'learned', digest));
    const [cls, at] = raw?.split(':') ?? [];
    if ((cls !== 'spam' && cls !== 'ham') || !at) return undefined;
    return { class: cls, movedAt: Number(at) };
  }

  async set(digest: string, record: LearnedRecord): Promise<void> {
    await this.redis.set(
      this.key('bayes-learn', 'learned', digest),
      `${record.class}:${record.movedAt}`,
      'EX',
      this.ttlSeconds,
    );
  }

  async count(outcome: string, n = 1): Promise<void> {
    await this.redis.hincrby(this.key('bayes-learn', 'counts'), outcome, n);
  }

  async counts(): Promise<Record<string, number>> {
    const raw = await this.redis.hgetall(this.key('bayes-learn', 'counts'));
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
  }
}
