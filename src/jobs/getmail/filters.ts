/**
 * The per-account filters: clamd, then Rspamd. A scanner that is down, reloading or slow
 * makes the run stop with a retryable error: nothing unscanned is delivered, nothing dropped.
 * A scanner that errs on one message while it answers a ping (clamd's size limit or `ERROR`,
 * an HTTP error status from Rspamd) fails that message only ({@link MessageError}).
 */
import type { Config, ConnectorConfig } from '../../config/schema.js';
import { MessageError, ProtocolError } from '../../core/errors.js';
import { ClamdClient } from '../../mail/clamd.js';
import { ping as pingRspamd, scanMessage, spamHeaders } from '../../mail/rspamd.js';
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

/**
 * Classifies a scanner's failure: about this message (the scanner refused its size or its
 * envelope, or erred on it and still answers a ping), or about the scanner (down, slow, or
 * erring on its ping too): then the run stops and nothing unscanned is delivered.
 */
async function scannerFailure(scanner: string, err: unknown, alive: () => Promise<void>): Promise<never> {
  if (!(err instanceof ProtocolError)) throw err;
  const ownFault =
    err.code === 'ESIZE' ||
    err.code === 'EENVELOPE' ||
    (err.code === 'EPROTOCOL' &&
      (err.responseCode ?? 400) >= 400 &&
      (await alive().then(
        () => true,
        () => false,
      )));
  if (ownFault) {
    throw new MessageError(`${scanner} failed on this message (${err.message})`, err.code, { cause: err });
  }
  // The scanner's own error (its code, its response code) stays reachable as `cause`.
  throw new ProtocolError(
    `${scanner} unavailable (${err.message}); nothing unscanned was delivered`,
    'ESCANNER',
    undefined,
    undefined,
    { cause: err },
  );
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
      const timeoutMs = config.clamd.timeoutSeconds * 1000;
      const scan = await clamd
        .scanStream(spool.stream(), { timeoutMs, signal })
        .catch((err: unknown) =>
          scannerFailure('antivirus (clamd)', err, () => clamd.ping({ timeoutMs, signal })),
        );
      if (scan.infected) return { kind: 'infected', virus: scan.virus ?? 'unknown' };
    }
  }
  const skipped = antivirusSkipped ? (['antivirus'] as const) : [];
  if (!connector.filters.antispam)
    return { kind: 'deliver', spam: false, headers: [], skipped: [...skipped] };
  const message = spool.size <= SPAM_SCAN_MAX_BYTES ? await bufferOf(spool) : undefined;
  if (!message) return { kind: 'deliver', spam: false, headers: [], skipped: [...skipped, 'antispam'] };
  const rspamd = { url: config.rspamd.url, timeoutMs: config.rspamd.timeoutSeconds * 1000, signal };
  const result = await scanMessage(
    message,
    // Rspamd flags a recipient without a domain as BROKEN_HEADERS: pass only full addresses.
    { from: envelope.from, ...(envelope.rcpt.includes('@') ? { rcpt: envelope.rcpt } : {}) },
    rspamd,
  ).catch((err: unknown) => scannerFailure('antispam (rspamd)', err, () => pingRspamd(rspamd)));
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
