/**
 * The task store: ad-hoc tasks kept for a bulk migration (`mailjobs sync import`, the
 * Synchronization page's import), so the fleet view lists them and Start runs them again,
 * without rewriting the config. One Redis hash, `{prefix}:state:imapsync-tasks`: target
 * (`adhoc:<user><<remote user>@<host>`) → the ad-hoc task as JSON, its passwords sealed for
 * their host, port and user (the payload an ad-hoc job carries). No expiry: an admin removes
 * tasks (`mailjobs sync remove`). Running one is queueing `{ adhoc }`: the `imapsync.adhoc`
 * host rules apply to stored tasks as to every ad-hoc task.
 */
import type { RedisClient } from '../../core/redis.js';
import { type AdhocTask, adhocTarget } from './schema.js';

/** A stored task: the ad-hoc task and when it was imported. */
export interface StoredTask {
  target: string;
  task: AdhocTask;
  importedAt: number;
}

export class SyncTaskStore {
  private readonly hash: string;

  constructor(
    private readonly redis: RedisClient,
    key: (...parts: string[]) => string,
  ) {
    this.hash = key('imapsync-tasks');
  }

  /** Stores every task at once (one transaction); a task with the same target is replaced. */
  async put(tasks: readonly AdhocTask[], now = Date.now()): Promise<string[]> {
    if (tasks.length === 0) return [];
    const entries = tasks.map((task) => [adhocTarget(task), JSON.stringify({ task, importedAt: now })]);
    await this.redis.hset(this.hash, Object.fromEntries(entries));
    return entries.map(([target]) => target!);
  }

  /** Which of `targets` are stored already. */
  async existing(targets: readonly string[]): Promise<Set<string>> {
    if (targets.length === 0) return new Set();
    const found = await this.redis.hmget(this.hash, ...targets);
    return new Set(targets.filter((_, i) => found[i] !== null));
  }

  async list(): Promise<StoredTask[]> {
    const all = await this.redis.hgetall(this.hash);
    return Object.entries(all)
      .map(([target, json]) => ({ target, ...(JSON.parse(json) as Omit<StoredTask, 'target'>) }))
      .sort((a, b) => a.target.localeCompare(b.target));
  }

  async get(target: string): Promise<StoredTask | undefined> {
    const json = await this.redis.hget(this.hash, target);
    return json ? { target, ...(JSON.parse(json) as Omit<StoredTask, 'target'>) } : undefined;
  }

  /** Removes these tasks; how many were there. */
  async remove(targets: readonly string[]): Promise<number> {
    return targets.length === 0 ? 0 : this.redis.hdel(this.hash, ...targets);
  }
}
