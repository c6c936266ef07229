/**
 * The cold-state rebuild: an account whose state is gone from Redis, with its whole remote
 * mailbox already in the local one as getmail leaves it (trace header on top), is run once.
 * The job first reads the traces back from every local folder (the time reported is the job's
 * own, from its log line), then must fetch nothing.
 */
import { traceValue } from '../src/jobs/getmail/trace.js';
import { Pop3Client } from '../src/mail/pop3.js';
import { run } from '../test/fixtures/service.js';
import { type CorpusMessage, loadMaildir } from './corpus.js';
import type { FetchTarget, ToolRun } from './tools.js';

export interface RebuildResult {
  messages: number;
  run: ToolRun;
  /** The job's own rebuild time and the keys it found, from its log line. */
  rebuild?: { durationMs: number; keys: number };
  failure: string | undefined;
}

/** Message-ID (without `<>`) → POP3 UIDL of `t.remoteUser`'s INBOX, as the server hands them out. */
async function uidls(t: FetchTarget): Promise<Map<string, string>> {
  const client = await Pop3Client.connect({
    host: '127.0.0.1',
    port: t.remote.pop3Port,
    security: 'none',
    verifyCertificate: false,
    connectTimeoutMs: 10_000,
    commandTimeoutMs: 120_000,
  });
  let byNumber: Map<number, string>;
  try {
    await client.login(t.remoteUser, t.remotePassword);
    byNumber = await client.uidl();
    await client.quit();
  } finally {
    client.close();
  }
  // POP3 message numbers follow the mailbox's sequence numbers, as doveadm lists them.
  const args = [
    '-c',
    t.remote.configFile,
    '-f',
    'tab',
    'fetch',
    '-u',
    t.remoteUser,
    'hdr.message-id',
    'mailbox',
    'INBOX',
  ];
  const r = await run('doveadm', args, { timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`doveadm fetch -u ${t.remoteUser} failed (exit ${r.code}): ${r.stderr}`);
  const ids = r.stdout.trim().split('\n').slice(1);
  return new Map(ids.map((id, i) => [id.trim().replace(/^<|>$/g, ''), byNumber.get(i + 1)!]));
}

/** The job's "rebuilt from the local mailbox" log line, from `mailjobs run`'s stdout. */
function rebuildLog(stdout: string): RebuildResult['rebuild'] {
  for (const line of stdout.split('\n')) {
    if (!line.includes('rebuilt from the local mailbox')) continue;
    const { durationMs, keys } = JSON.parse(line) as { durationMs: number; keys: number };
    return { durationMs, keys };
  }
  return undefined;
}

/**
 * Fills `t.localUser`'s mailbox with `corpus` (already on the remote side, fetched by
 * connector `account`) as getmail would have delivered it, then times `runFetch` on a fresh
 * state prefix.
 */
export async function coldStateRebuild(
  t: FetchTarget,
  corpus: readonly CorpusMessage[],
  account: string,
  runFetch: () => Promise<ToolRun>,
): Promise<RebuildResult> {
  const byId = await uidls(t);
  const delivered = corpus.map((m) => {
    const uidl = byId.get(m.messageId);
    if (!uidl) throw new Error(`no UIDL for ${m.messageId} on the remote side`);
    const trace = Buffer.from(`X-Mailjobs-Fetched: ${traceValue(account, undefined, 'pop3', uidl)}\n`);
    const data = Buffer.concat([trace, m.data]);
    return { ...m, data, wireSize: m.wireSize + trace.length + 1 };
  });
  await loadMaildir(t.local, t.localUser, delivered);
  const result = await runFetch();
  const rebuild = rebuildLog(result.stdout);
  const fetched = result.result?.fetched;
  const failure =
    result.code !== 0 || !result.result
      ? `exit ${result.code}: ${result.stderr.trim().slice(-300)}`
      : !rebuild
        ? 'the job logged no rebuild'
        : rebuild.keys !== corpus.length || fetched !== 0
          ? `found ${rebuild.keys} of ${corpus.length} fetched, then fetched ${String(fetched)}`
          : undefined;
  return { messages: corpus.length, run: result, ...(rebuild ? { rebuild } : {}), failure };
}
