/**
 * imapsync after dropped connections, cut at a chosen moment by a TCP proxy in front of one side:
 * the run ends ok, every message is in the destination exactly once (flags and INTERNALDATE
 * too), the result counts one reconnect per cut, and the copied / alreadyThere split is exact.
 * The local cut swallows the server's answer to an APPEND it carried out, so the batch is
 * stored but unanswered: the next pass finds it by identity and must count it copied.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CutRule, TcpProxy, nthOccurrence } from '../helpers/tcp-proxy.js';
import { type CorpusMessage, contents, makeMessage, seed, snapshot } from './corpus.js';
import { freshPrefix } from '../helpers/runtime.js';
import { runImapsync, startSyncWorld, type SyncWorld, writeSyncConfig } from './world.js';

const TOTAL = 600;
/** Already in the destination before the run: the first ones, identical. */
const THERE = 100;

let w: SyncWorld;
const proxies: TcpProxy[] = [];
beforeAll(async () => {
  w = await startSyncWorld();
});
afterAll(async () => {
  await Promise.allSettled(proxies.map((p) => p.close()));
  await w?.stop();
});

/** 600 messages of about 10 KB in the remote INBOX, the first 100 of them already local. */
async function accounts(tag: string) {
  const remote = await w.remote.addUser(`r-${tag}`);
  const local = await w.local.addUser(`l-${tag}`);
  const body = 'A line of text to give each message some weight.\r\n'.repeat(200);
  const messages: CorpusMessage[] = Array.from({ length: TOTAL }, (_, i) => ({
    folder: 'INBOX',
    raw: makeMessage(`${tag}-${i}`, { body }),
    flags: i % 3 ? (i % 5 ? [] : ['$Label1']) : ['\\Seen'],
    internalDate: new Date(Date.UTC(2018, 0, 1) + i * 60_000),
  }));
  await Promise.all([
    seed(w.remote, remote.user, messages),
    seed(w.local, local.user, messages.slice(0, THERE)),
  ]);
  return { remote, local };
}

async function proxy(port: number): Promise<TcpProxy> {
  const p = await TcpProxy.start(port);
  proxies.push(p);
  return p;
}

async function expectExactCopy(remoteUser: string, localUser: string): Promise<void> {
  const src = contents((await snapshot(w.remote, remoteUser)).get('INBOX'));
  const dst = contents((await snapshot(w.local, localUser)).get('INBOX'));
  expect(src).toHaveLength(TOTAL);
  expect(dst).toEqual(src); // each message once, same bytes, flags and INTERNALDATE
}

/**
 * Syncs a fresh `tag` account pair with one side behind a proxy that cuts the connection once
 * `cutWhen` matches: the run ends ok after one reconnect, with exact counts and an exact copy.
 */
async function syncThroughCut(tag: string, side: 'remote' | 'local', cutWhen: CutRule): Promise<void> {
  const { remote, local } = await accounts(tag);
  const p = await proxy(side === 'remote' ? w.remote.imapsPort! : w.local.imapPort);
  const config = writeSyncConfig(
    w,
    [{ id: tag, localUser: local.user, remoteUser: remote.user, password: remote.password }],
    [],
    freshPrefix(),
    side === 'remote' ? { remote: p.port } : { local: p.port },
  );
  const cut = p.cutOn(cutWhen);
  const r = await runImapsync(config, { task: tag });
  expect(r.err).not.toContain('job failed');
  expect(await cut).toBeGreaterThanOrEqual(1);
  expect(p.cuts).toBe(1);
  expect(r.result).toMatchObject({ outcome: 'ok', refused: 0, messagesOnSource: TOTAL });
  expect(r.result!.work.reconnects).toBe(p.cuts);
  expect(r.result!.copied).toBe(TOTAL - THERE);
  expect(r.result!.alreadyThere).toBe(THERE);
  await expectExactCopy(remote.user, local.user);
}

describe('imapsync reconnects after a cut at a chosen moment', () => {
  it('remote side cut while bodies are read: one reconnect, nothing missing or twice, exact counts', async () => {
    // Bodies are about 5 MB (500 x 10 KB); cut once 2 MB have come from the remote, mid-copy,
    // with APPENDs of earlier batches in flight on the (untouched) local side.
    await syncThroughCut('cut-remote', 'remote', (p) => p.direction === 'down' && p.total >= 2_000_000);
  }, 120_000);

  it('local side cut as an APPEND answer arrives (stored, answer lost): counted copied, once', async () => {
    // The second APPEND's tagged OK (with its APPENDUID) never reaches the client: that batch of
    // messages is in the destination, but the run never heard so.
    await syncThroughCut('cut-local', 'local', nthOccurrence('down', 'APPENDUID', 2));
  }, 120_000);
});
