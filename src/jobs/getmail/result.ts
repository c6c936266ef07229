/** What a getmail run returns: the job's result, its log line, `status` and the dashboard. */
import type { HeldMessage } from './state.js';

export interface GetmailResult extends Record<string, unknown> {
  account: string;
  fetched: number;
  delivered: number;
  spam: number;
  infected: number;
  discarded: number;
  tooBig: number;
  /** Failed on their own (refused for that message, a scanner erring on it): left on the server. */
  failed: number;
  /** Found already delivered after an interrupted run (trace header in the local mailbox). */
  recovered: number;
  /** Found already delivered by identity after a UIDVALIDITY change or UIDL renumbering. */
  duplicates: number;
  /** Left for the next run by the per-run limits. */
  deferred: number;
  deletedRemote: number;
  bytes: number;
  durationMs: number;
  /** Messages held after failing run after run: not tried until an admin retries them. */
  held: HeldMessage[];
}

export function emptyResult(account: string): GetmailResult {
  return {
    account,
    fetched: 0,
    delivered: 0,
    spam: 0,
    infected: 0,
    discarded: 0,
    tooBig: 0,
    failed: 0,
    recovered: 0,
    duplicates: 0,
    deferred: 0,
    deletedRemote: 0,
    bytes: 0,
    durationMs: 0,
    held: [],
  };
}
