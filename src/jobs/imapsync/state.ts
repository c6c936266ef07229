/**
 * What imapsync remembers per task, in Redis under `{prefix}:state:imapsync:<task>:`. All of it
 * is a cache: lose it and the next run compares identities again and copies nothing twice.
 *  - `folders`: source folder → checkpoint (both sides' UIDVALIDITY, UIDNEXT, message count,
 *    HIGHESTMODSEQ after the last complete pass), so an unchanged folder is not even opened;
 *  - `map:<srcValidity>:<dstValidity>:<folder>`: source UID → destination UID of each message
 *    known to be in the destination, written after each APPEND (UIDPLUS gives the UID), so an
 *    interrupted run resumes where it stopped; UIDs are only valid with their UIDVALIDITY
 *    (RFC 3501 2.3.1.1), hence in the key;
 *  - `ids:<dstValidity>:<folder>`: destination UID → identity, so destination messages are read
 *    once, not on every run;
 *  - `index`: the map and ids keys, to expire them with the rest.
 * Every key expires `imapsync.stateRetentionDays` after the task's last run. How runs went is
 * the worker's run record, not kept here.
 */
import type { RedisClient } from '../../core/redis.js';
import type { FolderStatus } from '../../mail/imap-sync-list.js';

/** A folder after its last complete pass. */
export interface FolderCheckpoint {
  destination: string;
  /** The options that decide what a complete pass means (a change forces a new pass). */
  fingerprint: string;
  src: FolderStatus;
  /** The destination as this run left it; absent when it could not be predicted (re-check next time). */
  dst?: FolderStatus;
  at: number;
}

const CHUNK = 1000;

/** A task's state in Redis (see the module comment). */
export class SyncStateStore {
  private readonly k: (...parts: string[]) => string;

  constructor(
    private readonly redis: RedisClient,
    key: (...parts: string[]) => string,
    target: string,
    private readonly retentionSeconds: number,
  ) {
    this.k = (...parts) => key('imapsync', target, ...parts);
  }

  async checkpoints(): Promise<Map<string, FolderCheckpoint>> {
    const all = await this.redis.hgetall(this.k('folders'));
    return new Map(Object.entries(all).map(([path, json]) => [path, JSON.parse(json) as FolderCheckpoint]));
  }

  async saveCheckpoint(source: string, cp: FolderCheckpoint): Promise<void> {
    await this.redis.hset(this.k('folders'), source, JSON.stringify(cp));
  }

  async dropCheckpoint(source: string): Promise<void> {
    await this.redis.hdel(this.k('folders'), source);
  }

  mapKey(srcValidity: string, dstValidity: string, source: string): string {
    return this.k('map', srcValidity, dstValidity, encodeURIComponent(source));
  }

  idsKey(dstValidity: string, destination: string): string {
    return this.k('ids', dstValidity, encodeURIComponent(destination));
  }

  async loadMap(mapKey: string): Promise<Map<number, number>> {
    const all = await this.redis.hgetall(mapKey);
    return new Map(Object.entries(all).map(([s, d]) => [Number(s), Number(d)]));
  }

  /** Source UID → destination UID (and the destination UID's identity), after each APPEND or match. */
  async recordPairs(
    mapKey: string,
    idsKey: string,
    pairs: readonly { src: number; dst: number; identity: string }[],
  ): Promise<void> {
    for (let i = 0; i < pairs.length; i += CHUNK) {
      const part = pairs.slice(i, i + CHUNK);
      await this.redis
        .multi()
        .hset(mapKey, Object.fromEntries(part.map((p) => [p.src, p.dst])))
        .hset(idsKey, Object.fromEntries(part.map((p) => [p.dst, p.identity])))
        .sadd(this.k('index'), mapKey, idsKey)
        .exec();
    }
  }

  async forgetPairs(mapKey: string, srcUids: readonly number[]): Promise<void> {
    for (let i = 0; i < srcUids.length; i += CHUNK)
      await this.redis.hdel(mapKey, ...srcUids.slice(i, i + CHUNK).map(String));
  }

  async recordIdentities(idsKey: string, ids: ReadonlyMap<number, string>): Promise<void> {
    const entries = [...ids];
    for (let i = 0; i < entries.length; i += CHUNK) {
      await this.redis
        .multi()
        .hset(idsKey, Object.fromEntries(entries.slice(i, i + CHUNK)))
        .sadd(this.k('index'), idsKey)
        .exec();
    }
  }

  /** Known identities of `dstUids` (unknown ones are absent). */
  async identities(idsKey: string, dstUids: readonly number[]): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    for (let i = 0; i < dstUids.length; i += CHUNK) {
      const part = dstUids.slice(i, i + CHUNK);
      const values = await this.redis.hmget(idsKey, ...part.map(String));
      part.forEach((uid, j) => {
        const v = values[j];
        if (v) out.set(uid, v);
      });
    }
    return out;
  }

  async forgetIdentities(idsKey: string, dstUids: readonly number[]): Promise<void> {
    for (let i = 0; i < dstUids.length; i += CHUNK)
      await this.redis.hdel(idsKey, ...dstUids.slice(i, i + CHUNK).map(String));
  }

  /** Drops a map or ids key that belongs to an old UIDVALIDITY. */
  async dropKeys(...keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.redis
      .multi()
      .del(...keys)
      .srem(this.k('index'), ...keys)
      .exec();
  }

  /**
   * crossFolderDedupe: each identity belongs to the first source folder that claims it. Claims
   * `ids` for `folder` (unless `readOnly`: a dry run) and returns those another folder owns.
   */
  async claim(folder: string, ids: readonly string[], readOnly = false): Promise<Set<string>> {
    const taken = new Set<string>();
    const key = this.k('claimed');
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      const m = this.redis.multi();
      if (!readOnly) for (const id of chunk) m.hsetnx(key, id, folder);
      m.hmget(key, ...chunk);
      const replies = (await m.exec()) ?? [];
      const owners = (replies[replies.length - 1]?.[1] ?? []) as (string | null)[];
      chunk.forEach((id, j) => {
        if (owners[j] != null && owners[j] !== folder) taken.add(id);
      });
    }
    return taken;
  }

  /** At the end of every run, whatever its outcome: every key of the task lives `retentionSeconds` more. */
  async extendRetention(): Promise<void> {
    const indexed = await this.redis.smembers(this.k('index'));
    const e = this.redis.multi();
    const own = [this.k('folders'), this.k('index'), this.k('claimed')];
    for (const key of [...own, ...indexed]) e.expire(key, this.retentionSeconds);
    await e.exec();
  }
}
