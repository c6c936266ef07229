/**
 * One log line per Redis outage, however many connections retry meanwhile. A process holds many
 * connections (the state connection, one per Queue, two per Worker, QueueEvents, the cancel
 * subscriber); while Redis is away each of them reports every reconnect attempt. Every one of
 * them reports here: the first error of an outage is one warn line, the others are counted, and
 * the state connection's `ready` ends the outage with one info line.
 */
import type { Logger } from './logger.js';
import { isUnreachable } from './redis.js';

/** Something that emits `error` (ioredis, or a BullMQ Queue, Worker or QueueEvents). */
interface ErrorEmitter {
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export class RedisOutageLog {
  private since: number | undefined;
  private errors = 0;
  private state: { status: string } | undefined;
  /** Called whenever an outage starts or ends (see `unreachableFor`). */
  private readonly changes = new Set<() => void>();

  constructor(
    private readonly log: Logger,
    /** The Redis address as logs show it (password masked). */
    private readonly redis: string,
  ) {}

  /** Listens to `emitter`'s errors; `source` names it in the log (a queue, `state`, `cancel`). */
  watch<T extends ErrorEmitter>(emitter: T, source: string): T {
    emitter.on('error', (err) => this.error(err, source));
    return emitter;
  }

  /** Listens to the connection whose `ready` says Redis answers again. */
  watchState<T extends ErrorEmitter & { status: string; on(event: 'ready', listener: () => void): unknown }>(
    redis: T,
  ): T {
    this.state = redis;
    redis.on('ready', () => this.ready());
    return this.watch(redis, 'state');
  }

  /** True while an outage is on. */
  get down(): boolean {
    return this.since !== undefined;
  }

  /**
   * Resolves once Redis has been unreachable for `ms` without a break (counted from the outage's
   * start): for a shutdown that should not wait for it any longer. Never resolves while Redis
   * answers; its timer does not keep the process alive.
   */
  unreachableFor(ms: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const arm = () => {
        clearTimeout(timer);
        if (this.since === undefined) return;
        timer = setTimeout(
          () => {
            // An error of another connection after the state connection came back is no outage.
            if (this.state?.status === 'ready') return;
            this.changes.delete(arm);
            resolve();
          },
          Math.max(0, this.since + ms - Date.now()),
        ).unref();
      };
      this.changes.add(arm);
      arm();
    });
  }

  error(err: Error, source: string): void {
    // While the state connection is not ready, whatever fails is part of the outage.
    if (!isUnreachable(err) && this.state?.status === 'ready') {
      // Not an outage (a script error, a refused command): one line each, the stack at debug.
      this.log.error({ source, err: err.message }, 'redis error');
      this.log.debug({ source, err }, 'redis error (stack)');
      return;
    }
    this.errors++;
    if (this.since !== undefined) return;
    this.since = Date.now();
    for (const change of this.changes) change();
    this.log.warn(
      { redis: this.redis, source, err: err.message },
      'redis unreachable: jobs wait until it answers again (retrying)',
    );
  }

  ready(): void {
    if (this.since === undefined) return;
    const downMs = Date.now() - this.since;
    this.log.info({ redis: this.redis, downMs, errors: this.errors }, 'redis answers again');
    this.since = undefined;
    this.errors = 0;
    for (const change of this.changes) change();
  }
}
