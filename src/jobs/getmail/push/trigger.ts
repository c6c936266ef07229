/**
 * From new-mail events to getmail jobs. The first event queues a fetch at once; events in the
 * next `debounceMs` become one more fetch at the end of that window (a burst of 50 messages is
 * one or two jobs, and the per-target deduplication of enqueueJob folds the rest). A fetch
 * that is running when mail arrives may have listed the folder before that mail: then the
 * trigger asks again after each window until a new job is queued behind it.
 */
import type { EnqueueOutcome } from '../../../client/enqueue.js';
import type { Logger } from '../../../core/logger.js';

export class FetchTrigger {
  /** An enqueue in flight, or the window after one. */
  private holding = false;
  private pending = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly enqueue: () => Promise<EnqueueOutcome>,
    private readonly debounceMs: number,
    private readonly log: Logger,
  ) {}

  /** New mail (or a reason to look): a fetch now, or at the end of the current window. */
  fire(): void {
    if (this.closed) return;
    if (this.holding) {
      this.pending = true;
      return;
    }
    void this.run();
  }

  private async run(): Promise<void> {
    this.holding = true;
    this.pending = false;
    try {
      const outcome = await this.enqueue();
      this.log.debug({ outcome: outcome.status, jobId: outcome.jobId }, 'push: fetch requested');
      if (outcome.status === 'running') this.pending = true;
    } catch (err) {
      // Redis away: try again after the window; the interval fetch is the safety net.
      this.log.warn({ err: (err as Error).message }, 'push: cannot queue a fetch; trying again');
      this.pending = true;
    }
    if (this.closed) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.holding = false;
        if (this.pending) this.fire();
      },
      Math.max(this.debounceMs, 200),
    );
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }
}
