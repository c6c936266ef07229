/**
 * The per-account filters: clamd, then Rspamd. A scanner that is down, reloading or slow
 * makes the run stop with a retryable error: nothing unscanned is delivered, nothing dropped.
 */
import type { Config, ConnectorConfig } from '../../config/schema.js';
import { ProtocolError } from '../../core/errors.js';
import { ClamdClient } from '../../mail/clamd.js';
import { scanMessage, spamHeaders } from '../../mail/rspamd.js';
import type { MessageSpool } from '../../mail/spool.js';

/** Rspamd's own default `max_message` is 50 MB; above our limit the spam scan is skipped (logged). */
export const SPAM_SCAN_MAX_BYTES = 20 * 1024 * 1024;

export type FilterVerdict =
  | { kind: 'infected'; virus: string }
  | { kind: 'discard'; score: number }
  | {
      kind: 'deliver';
      spam: boolean;
      headers: string[];
      subject?: string;
      /** Over the scanner's size limit: delivered without that scan (as clamd and Rspamd skip them too). */
      skipped?: ('antivirus' | 'antispam')[];
    };

function unavailable(scanner: string, err: unknown): never {
  if (err instanceof ProtocolError) {
    throw new ProtocolError(
      `${scanner} unavailable (${err.message}); nothing unscanned was delivered`,
      'ESCANNER',
    );
  }
  throw err;
}

export async function applyFilters(
  spool: MessageSpool,
  envelope: { from: string; rcpt: string },
  subject: string | undefined,
  connector: ConnectorConfig,
  config: Config,
  signal: AbortSignal,
): Promise<FilterVerdict> {
  let antivirusSkipped = false;
  if (connector.filters.antivirus) {
    const maxStreamBytes = config.clamd.maxStreamMegabytes * 1024 * 1024;
    antivirusSkipped = spool.size > maxStreamBytes;
    if (!antivirusSkipped) {
      const clamd = new ClamdClient(config.clamd, { maxStreamBytes });
      const scan = await clamd
        .scanStream(spool.stream(), { timeoutMs: config.clamd.timeoutSeconds * 1000, signal })
        .catch((err: unknown) => unavailable('antivirus (clamd)', err));
      if (scan.infected) return { kind: 'infected', virus: scan.virus ?? 'unknown' };
    }
  }
  const skipped = antivirusSkipped ? (['antivirus'] as const) : [];
  if (!connector.filters.antispam)
    return { kind: 'deliver', spam: false, headers: [], skipped: [...skipped] };
  const message = spool.size <= SPAM_SCAN_MAX_BYTES ? await bufferOf(spool) : undefined;
  if (!message) return { kind: 'deliver', spam: false, headers: [], skipped: [...skipped, 'antispam'] };
  const result = await scanMessage(
    message,
    // Rspamd flags a recipient without a domain as BROKEN_HEADERS: pass only full addresses.
    { from: envelope.from, ...(envelope.rcpt.includes('@') ? { rcpt: envelope.rcpt } : {}) },
    { url: config.rspamd.url, timeoutMs: config.rspamd.timeoutSeconds * 1000, signal },
  ).catch((err: unknown) => unavailable('antispam (rspamd)', err));
  if (result.action === 'reject' && config.getmail.rejectedSpam === 'discard')
    return { kind: 'discard', score: result.score };
  const lines = spamHeaders(result, { subjectPrefix: config.getmail.spamSubjectPrefix, subject });
  const newSubject = lines.find((l) => /^Subject:/i.test(l));
  return {
    kind: 'deliver',
    skipped: [...skipped],
    spam: result.isSpam,
    headers: lines.filter((l) => l !== newSubject),
    ...(newSubject ? { subject: newSubject } : {}),
  };
}

async function bufferOf(spool: MessageSpool): Promise<Buffer> {
  const inMemory = spool.buffer();
  if (inMemory) return inMemory;
  const chunks: Buffer[] = [];
  for await (const c of spool.stream()) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
