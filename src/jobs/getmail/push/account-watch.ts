/**
 * One account's watch, while this process holds its lease: a session slot at the remote host
 * (leaving one to the fetches, see `RemoteHostSessions.tryAcquire`), a login as the fetch does
 * it, then IDLE on one folder until the connection ends; then again, after an exponential
 * back-off with jitter. New mail fires the account's {@link FetchTrigger}; so does every
 * reconnect, since mail may have come while the connection was down.
 *
 * Which folder: INBOX when the connector fetches it (or `all`), else its first folder. The
 * connector's other folders: with NOTIFY (RFC 5465) watched on the same connection; without
 * it one IMAP connection sees one selected folder, so they are fetched by the interval
 * schedule (and by every fetch that push triggers).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConnectorConfig } from '../../../config/schema.js';
import type { RemoteHostSessions } from '../../../core/host-sessions.js';
import type { Logger } from '../../../core/logger.js';
import { idleCapabilities, idleOnFolder } from '../../../mail/imap-idle.js';
import type { BackgroundContext } from '../../types.js';
import { loginImap } from '../remote.js';
import type { PushState, PushStateStore } from './state.js';
import type { FetchTrigger } from './trigger.js';

/** How long a server without IDLE is left alone before it is asked again. */
const NO_IDLE_RECHECK_MS = 3600_000;
/** How long a watch waits for a free session slot at its host before it looks again. */
const SLOT_RETRY_MS = 5_000;

/** The folder to IDLE on, and the connector's others (`personal`: every other folder). */
export function idleFolderOf(c: ConnectorConfig): { folder: string; others: string[] | 'personal' } {
  if (c.folders === 'all') return { folder: 'INBOX', others: 'personal' };
  const inbox = c.folders.find((f) => f.toUpperCase() === 'INBOX');
  const folder = inbox ?? c.folders[0]!;
  return { folder, others: c.folders.filter((f) => f !== folder) };
}

/** How `others` read on the Connectors page. */
const folderNames = (others: string[] | 'personal'): string[] =>
  others === 'personal' ? ['every other folder'] : others;

/** `attempt` 0, 1, 2... → 1 s, 2 s, 4 s... up to `maxMs`, each between half and all of it. */
export function backoffMs(attempt: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, 1000 * 2 ** Math.min(attempt, 20));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

export interface AccountWatchDeps {
  ctx: BackgroundContext;
  /** The connector as the live config has it now. */
  connector(): ConnectorConfig | undefined;
  hostSessions(): RemoteHostSessions;
  states: PushStateStore;
  trigger: FetchTrigger;
  holder: string;
}

type Round = { next: 'reconnect' | 'no-idle' | 'no-slot' | 'stop'; connected: boolean };

export class AccountWatch {
  private readonly abort = new AbortController();
  private readonly done: Promise<void>;
  private readonly log: Logger;

  constructor(
    readonly account: string,
    private readonly deps: AccountWatchDeps,
  ) {
    this.log = deps.ctx.log.child({ account });
    this.done = this.loop();
  }

  /** Ends the watch (logs out) and waits for it. */
  async stop(): Promise<void> {
    this.abort.abort('push watch stopped');
    this.deps.trigger.close();
    await this.done;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    let connectedBefore = false;
    while (!this.abort.signal.aborted) {
      const c = this.deps.connector();
      if (!c) return;
      let round: Round;
      try {
        round = await this.round(c, connectedBefore);
      } catch (err) {
        if (this.abort.signal.aborted) return;
        const reason = (err as Error).message;
        this.log.warn({ err: reason, host: c.host }, 'push: cannot watch the account');
        await this.state({ phase: 'error', reason });
        round = { next: 'reconnect', connected: false };
      }
      connectedBefore ||= round.connected;
      failures = round.connected ? 0 : failures + 1;
      const push = this.deps.ctx.config().getmail.push;
      const wait =
        round.next === 'stop'
          ? 0
          : round.next === 'no-idle'
            ? NO_IDLE_RECHECK_MS
            : round.next === 'no-slot'
              ? SLOT_RETRY_MS
              : backoffMs(failures, push.maxReconnectSeconds * 1000);
      if (round.next === 'stop') return;
      await sleep(wait, undefined, { signal: this.abort.signal, ref: false }).catch(() => undefined);
    }
  }

  private last: PushState | undefined;

  private async state(s: Omit<PushState, 'holder' | 'since'> & { since?: number }): Promise<void> {
    this.last = { holder: this.deps.holder, since: Date.now(), ...s };
    await this.deps.states.write(this.account, this.last).catch(() => undefined);
  }

  /** Writes the current state again (each lease round): a Redis that lost it gets it back. */
  async refresh(): Promise<void> {
    if (this.last) await this.deps.states.write(this.account, this.last);
  }

  /** One connection, from the session slot to its end. */
  private async round(c: ConnectorConfig, reconnect: boolean): Promise<Round> {
    const { ctx } = this.deps;
    const config = ctx.config();
    const release = await this.deps.hostSessions().tryAcquire(c.host, 1);
    if (!release) {
      const reason = `waiting for a session slot at ${c.host} (remoteSessionsPerHost ${config.remoteSessionsPerHost}, one kept for fetches)`;
      await this.state({ phase: 'waiting-slot', reason });
      return { next: 'no-slot', connected: false };
    }
    try {
      await this.state({ phase: 'connecting' });
      const client = await loginImap(
        c,
        { config, log: this.log, signal: this.abort.signal, redis: ctx.redis, key: ctx.key },
        { maxIdleTimeMs: config.getmail.push.idleRestartSeconds * 1000 },
      );
      try {
        const caps = idleCapabilities(client);
        await this.deps.states.setIdle(this.account, caps.idle);
        if (!caps.idle) {
          const reason =
            c.push === true
              ? 'push: true, but the server does not announce IDLE'
              : 'the server does not announce IDLE';
          await this.state({ phase: c.push === true ? 'error' : 'no-idle', reason });
          return { next: 'no-idle', connected: true };
        }
        const { folder, others } = idleFolderOf(c);
        // Without NOTIFY the others wait for the interval.
        let [notified, polled] = caps.notify ? [folderNames(others), []] : [[], folderNames(others)];
        if (reconnect) this.deps.trigger.fire();
        let since = Date.now();
        let lastEventAt: number | undefined;
        const watching = () =>
          this.state({
            phase: 'watching',
            since,
            folder,
            notified,
            polled,
            ...(lastEventAt ? { lastEventAt } : {}),
          });
        await idleOnFolder(
          client,
          folder,
          {
            onIdle: () => {
              since = Date.now();
              this.log.info({ folder, notify: caps.notify }, 'push: watching');
              void watching();
            },
            onNotifyRefused: (err) => {
              this.log.warn(
                { err: err.message, folders: notified },
                'push: NOTIFY refused; other folders at the interval',
              );
              [notified, polled] = [[], folderNames(others)];
            },
            onNewMail: (where) => {
              lastEventAt = Date.now();
              this.log.debug({ folder: where }, 'push: new mail');
              this.deps.trigger.fire();
              void watching();
            },
          },
          caps.notify ? others : undefined,
        );
        if (this.abort.signal.aborted) return { next: 'stop', connected: true };
        this.log.warn({ host: c.host, folder }, 'push: connection lost; reconnecting');
        await this.state({ phase: 'error', reason: 'connection lost; reconnecting' });
        return { next: 'reconnect', connected: true };
      } finally {
        await client.logout().catch(() => client.close());
      }
    } finally {
      await release().catch(() => undefined);
    }
  }
}
