/**
 * What the alerts remember between runs, and the one pure step that turns this run's
 * conditions into at most one mail: conditions that started (not mailed yet) and conditions that
 * cleared (their start was mailed, their end not yet). A mail goes out at most once per
 * `minIntervalMinutes`; what changes meanwhile waits for the next one, and a problem that
 * starts and clears between two mails is never mailed at all (it still is logged).
 *
 * Kept as one JSON value in Redis (`state:alerts:state`), written by the alerts job only (one
 * run at a time: its target is fixed), read by `status` and the pages.
 */
import type { RedisClient } from '../../core/redis.js';
import type { AlertCondition } from './rules.js';

/** A condition that holds, since when, and whether the postmaster has been told. */
export interface ActiveAlert extends AlertCondition {
  since: number;
  mailed: boolean;
}

/** A mailed condition that has ended; its "cleared" mail is still to be sent. */
export interface ClearedAlert extends ActiveAlert {
  clearedAt: number;
}

export interface AlertState {
  active: ActiveAlert[];
  cleared: ClearedAlert[];
  lastMailAt?: number;
  /** Why the last mail due could not be sent (it stays due). */
  mailError?: { at: number; reason: string };
}

/** What one step decided. */
export interface AlertStep {
  /** The state to keep if the mail (if any) goes out; see {@link afterMail}. */
  state: AlertState;
  /** For the log: what started and what ended in this run. */
  started: ActiveAlert[];
  ended: ActiveAlert[];
  /** The mail to send now, if one is due. */
  mail?: { started: ActiveAlert[]; cleared: ClearedAlert[]; ongoing: ActiveAlert[] };
}

export const EMPTY_STATE: AlertState = { active: [], cleared: [] };

/** Advances `prev` to the conditions that hold `now`. */
export function stepAlerts(
  prev: AlertState,
  conditions: readonly AlertCondition[],
  now: number,
  minIntervalMs: number,
): AlertStep {
  const wasActive = new Map(prev.active.map((a) => [a.id, a]));
  const wasCleared = new Map(prev.cleared.map((a) => [a.id, a]));
  const current = new Set(conditions.map((c) => c.id));
  const started: ActiveAlert[] = [];
  const active = conditions.map((c): ActiveAlert => {
    const before = wasActive.get(c.id);
    if (before) return { ...c, since: before.since, mailed: before.mailed };
    const back = wasCleared.get(c.id);
    // Back before its "cleared" mail went: for the postmaster it never ended.
    if (back) return { ...c, since: back.since, mailed: true };
    const a = { ...c, since: now, mailed: false };
    started.push(a);
    return a;
  });
  const ended = prev.active.filter((a) => !current.has(a.id));
  const cleared = [
    ...prev.cleared.filter((a) => !current.has(a.id)),
    // One whose start was never mailed ends unmailed too.
    ...ended.filter((a) => a.mailed).map((a) => ({ ...a, clearedAt: now })),
  ];
  const state: AlertState = {
    active,
    cleared,
    ...(prev.lastMailAt !== undefined ? { lastMailAt: prev.lastMailAt } : {}),
  };
  const news = active.filter((a) => !a.mailed);
  const due = prev.lastMailAt === undefined || now - prev.lastMailAt >= minIntervalMs;
  const mail =
    due && (news.length > 0 || cleared.length > 0)
      ? { started: news, cleared, ongoing: active.filter((a) => a.mailed) }
      : undefined;
  return { state, started, ended, ...(mail ? { mail } : {}) };
}

/** The state once the step's mail went out at `now`. */
export function afterMail(state: AlertState, now: number): AlertState {
  return { active: state.active.map((a) => ({ ...a, mailed: true })), cleared: [], lastMailAt: now };
}

type KeyFn = (...parts: string[]) => string;

const stateKeyOf = (key: KeyFn): string => key('alerts', 'state');

/** The alerts' state as last written (empty before the first run). */
export async function readAlertState(redis: RedisClient, key: KeyFn): Promise<AlertState> {
  const raw = await redis.get(stateKeyOf(key));
  return raw ? (JSON.parse(raw) as AlertState) : EMPTY_STATE;
}

/** The conditions that hold now, oldest first: for `status` and the pages. */
export async function readActiveAlerts(redis: RedisClient, key: KeyFn): Promise<ActiveAlert[]> {
  return [...(await readAlertState(redis, key)).active].sort((a, b) => a.since - b.since);
}

export async function writeAlertState(redis: RedisClient, key: KeyFn, state: AlertState): Promise<void> {
  await redis.set(stateKeyOf(key), JSON.stringify(state));
}
