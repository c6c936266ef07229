/**
 * Rspamd over its HTTP protocol: scan a message on the normal worker (`POST /checkv2`), teach
 * Bayes on the controller (`POST /learnspam|/learnham`) and read its counters (`GET /stat`).
 * Plus {@link spamHeaders}: the headers that make Dovecot's Sieve file a message into Junk.
 *
 * Errors: {@link ProtocolError} with `ETIMEOUT` (no answer in time), `ECONNECTION` (refused,
 * reset, unreachable), `EPROTOCOL` (an unexpected status or body; `responseCode` holds the
 * HTTP status) or `EENVELOPE` (an envelope field we refuse to send). A refused controller
 * password is an {@link AuthenticationError}: retrying cannot fix it. The password is sent in
 * the `Password` header only, never put in a message.
 */
import http from 'node:http';
import https from 'node:https';
import { AuthenticationError, ProtocolError } from '../core/errors.js';

/** Rspamd's actions; `soft reject` comes from greylisting or rate limits, not from spam score. */
export type RspamdAction =
  'no action' | 'greylist' | 'add header' | 'rewrite subject' | 'soft reject' | 'reject' | (string & {});

/** One symbol (rule) that matched. */
export interface RspamdSymbol {
  name: string;
  score: number;
  description?: string;
  options?: string[];
}

/** Verdict of {@link scanMessage}. */
export interface RspamdScanResult {
  action: RspamdAction;
  score: number;
  /** Rspamd's `required_score`: the score of its `reject` action (15 by default). */
  requiredScore: number;
  /** True for `add header`, `rewrite subject` and `reject`: the message is spam. */
  isSpam: boolean;
  symbols: Record<string, RspamdSymbol>;
  /** True when Rspamd skipped the checks (a settings rule); the verdict is then `no action`. */
  skipped: boolean;
}

/** SMTP envelope facts Rspamd uses (SPF, HELO and sender checks); unknown ones are omitted. */
export interface RspamdEnvelope {
  /** MAIL FROM address; `''` is the null sender of bounces. */
  from?: string;
  rcpt?: string | string[];
  /** Connecting client's IP address. */
  ip?: string;
  helo?: string;
  /** Authenticated SMTP user. */
  user?: string;
  queueId?: string;
}

/** Where and how long to scan. */
export interface ScanOptions {
  /** Normal worker base URL, e.g. `http://127.0.0.1:11333`. */
  url: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Controller access for {@link learn} and {@link stat}. */
export interface ControllerOptions {
  /** Controller base URL, e.g. `http://127.0.0.1:11334`. */
  controllerUrl: string;
  /** Controller password (learning needs the `enable_password` one). */
  password: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Outcome of {@link learn}. `alreadyLearned` is Rspamd's 208, a successful no-op. Neither
 * flag set is Rspamd's 204: it skipped the message (too few words for Bayes), which no retry
 * changes. `reason` is Rspamd's explanation whenever it did not learn.
 */
export interface LearnResult {
  learned: boolean;
  alreadyLearned: boolean;
  reason?: string;
}

/** Bayes counters from {@link stat}. */
export interface RspamdBayesStat {
  /** Messages learned as spam (`BAYES_SPAM` statfile), as stored in Redis. */
  spam: number;
  /** Messages learned as ham (`BAYES_HAM` statfile). */
  ham: number;
  /** Rspamd's `total_learns` over all statfiles. */
  total: number;
  /** Learns done through this controller process since it started (updated at once). */
  learnedSinceStart: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** Replies are small JSON; anything bigger is not Rspamd talking. Keeps memory bounded. */
const MAX_REPLY_BYTES = 8 * 1024 * 1024;
const SPAM_ACTIONS = new Set(['add header', 'rewrite subject', 'reject']);

/** True for the actions that mark a message as spam (as opposed to deferring or passing it). */
export function isSpamAction(action: string): boolean {
  return SPAM_ACTIONS.has(action);
}

interface HttpReply {
  status: number;
  statusText: string;
  body: Buffer;
}

/** One HTTP request to Rspamd. */
interface HttpCall {
  method: 'GET' | 'POST';
  base: string;
  route: string;
  headers: http.OutgoingHttpHeaders;
  body?: Buffer;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** One HTTP exchange with a total deadline; network failures become ProtocolErrors. */
async function exchange(call: HttpCall): Promise<HttpReply> {
  const { method, route, body, signal } = call;
  const timeoutMs = call.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const url = new URL(call.base.replace(/\/+$/, '') + route);
  // Name host and route only: a URL may carry credentials.
  const what = `rspamd ${method} ${route} at ${url.host}`;
  signal?.throwIfAborted();
  return new Promise<HttpReply>((resolve, reject) => {
    let settled = false;
    const finish = (err: unknown, reply?: HttpReply): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      req.destroy();
      if (reply) resolve(reply);
      else reject(err);
    };
    const onAbort = (): void => finish(signal?.reason);
    const lib = url.protocol === 'https:' ? https : http;
    // agent: false: Rspamd closes every connection anyway; a pooled one could be stale.
    const headers = { ...call.headers, 'Content-Length': body?.length ?? 0 };
    const req = lib.request(url, { method, agent: false, headers });
    const timer = setTimeout(
      () => finish(new ProtocolError(`${what}: no answer within ${timeoutMs} ms`, 'ETIMEOUT')),
      timeoutMs,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    let head: Omit<HttpReply, 'body'> | undefined;
    req.on('error', (err: NodeJS.ErrnoException) => {
      // Rspamd sends a body with its 204 ("less tokens than required"), which 204 must not
      // have; Node's parser then fails after the head. The head is the whole answer.
      if (head?.status === 204) return finish(null, { ...head, body: Buffer.alloc(0) });
      const code = err.code?.startsWith('HPE_') ? 'EPROTOCOL' : 'ECONNECTION';
      finish(new ProtocolError(`${what}: ${err.code ?? err.message}`, code));
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      head = { status, statusText: res.statusMessage ?? '' };
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size > MAX_REPLY_BYTES) finish(new ProtocolError(`${what}: reply too big`, 'EPROTOCOL', status));
      });
      res.on('end', () => head && finish(null, { ...head, body: Buffer.concat(chunks) }));
      res.on('error', (err: NodeJS.ErrnoException) =>
        finish(new ProtocolError(`${what}: ${err.code ?? err.message}`, 'ECONNECTION')),
      );
    });
    req.end(body);
  });
}

/** Parses a JSON body, or throws EPROTOCOL naming the route. */
function json(reply: HttpReply, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(reply.body.toString('utf8'));
    if (value !== null && typeof value === 'object' && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // fall through to the error below
  }
  throw new ProtocolError(`${what}: reply is not a JSON object`, 'EPROTOCOL', reply.status);
}

/** Rspamd's explanation: `{"error": "..."}` in the body, else the status line's reason. */
function errorText(reply: HttpReply): string {
  try {
    const error = (JSON.parse(reply.body.toString('utf8')) as { error?: unknown }).error;
    if (typeof error === 'string') return error;
  } catch {
    // not JSON: use the status text
  }
  return reply.statusText;
}

/** Throws for any status not in `ok`: 401/403 as AuthenticationError, others as EPROTOCOL. */
function expectStatus(reply: HttpReply, ok: number[], what: string): void {
  if (ok.includes(reply.status)) return;
  const message = `${what}: HTTP ${reply.status} ${errorText(reply).slice(0, 200)}`;
  if (reply.status === 401 || reply.status === 403) throw new AuthenticationError(message);
  throw new ProtocolError(message, 'EPROTOCOL', reply.status);
}

/** Header values must be one line: a CR or LF would smuggle extra headers into the request. */
function headerValue(field: string, value: string): string {
  if (/[\r\n\0]/.test(value))
    throw new ProtocolError(`envelope.${field} contains a line break or NUL`, 'EENVELOPE');
  return value;
}

/** The request headers for an envelope; Rspamd reads one `Rcpt` header per recipient. */
export function envelopeHeaders(envelope: RspamdEnvelope): http.OutgoingHttpHeaders {
  const headers: http.OutgoingHttpHeaders = {};
  if (envelope.from !== undefined)
    headers.From = headerValue('from', envelope.from === '' ? '<>' : envelope.from);
  const rcpt = envelope.rcpt === undefined ? [] : [envelope.rcpt].flat();
  if (rcpt.length > 0) headers.Rcpt = rcpt.map((r) => headerValue('rcpt', r));
  if (envelope.ip !== undefined) headers.IP = headerValue('ip', envelope.ip);
  if (envelope.helo !== undefined) headers.Helo = headerValue('helo', envelope.helo);
  if (envelope.user !== undefined) headers.User = headerValue('user', envelope.user);
  if (envelope.queueId !== undefined) headers['Queue-Id'] = headerValue('queueId', envelope.queueId);
  return headers;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Scans a raw RFC 5322 message with `POST /checkv2` and returns Rspamd's verdict. */
export async function scanMessage(
  msg: Buffer,
  envelope: RspamdEnvelope,
  opts: ScanOptions,
): Promise<RspamdScanResult> {
  const what = 'rspamd /checkv2';
  const { url: base, timeoutMs, signal } = opts;
  const call = { base, route: '/checkv2', headers: envelopeHeaders(envelope), timeoutMs, signal };
  const reply = await exchange({ ...call, method: 'POST', body: msg });
  expectStatus(reply, [200], what);
  const body = json(reply, what);
  const { action } = body;
  const score = num(body.score);
  const requiredScore = num(body.required_score);
  if (typeof action !== 'string' || score === undefined || requiredScore === undefined) {
    throw new ProtocolError(`${what}: no action, score or required_score`, 'EPROTOCOL', reply.status);
  }
  const symbols: Record<string, RspamdSymbol> = {};
  for (const [name, raw] of Object.entries((body.symbols ?? {}) as Record<string, Record<string, unknown>>)) {
    symbols[name] = {
      name,
      score: num(raw.score) ?? 0,
      ...(typeof raw.description === 'string' ? { description: raw.description } : {}),
      ...(Array.isArray(raw.options) ? { options: raw.options.map(String) } : {}),
    };
  }
  return {
    action,
    score,
    requiredScore,
    isSpam: isSpamAction(action),
    symbols,
    skipped: body.is_skipped === true,
  };
}

/**
 * Resolves when the normal worker answers `GET /ping` with `pong`: tells a scanner that errs on
 * one message from a scanner that is down.
 */
export async function ping(opts: ScanOptions): Promise<void> {
  const what = 'rspamd /ping';
  const { url: base, timeoutMs, signal } = opts;
  const reply = await exchange({ base, route: '/ping', headers: {}, timeoutMs, signal, method: 'GET' });
  expectStatus(reply, [200], what);
  if (reply.body.toString('utf8').trim() !== 'pong')
    throw new ProtocolError(`${what}: unexpected answer`, 'EPROTOCOL', reply.status);
}

/** The parts of an {@link HttpCall} that every controller request shares. */
function controller(opts: ControllerOptions): Omit<HttpCall, 'method' | 'route'> {
  const { controllerUrl: base, password, timeoutMs, signal } = opts;
  return { base, headers: { Password: password }, timeoutMs, signal };
}

/**
 * Teaches Bayes that `msg` is spam or ham. Learning the same message again as the same class is
 * a successful no-op (`alreadyLearned`); learning it as the other class moves it.
 */
export async function learn(cls: 'spam' | 'ham', msg: Buffer, opts: ControllerOptions): Promise<LearnResult> {
  const route = cls === 'spam' ? '/learnspam' : '/learnham';
  const reply = await exchange({ ...controller(opts), method: 'POST', route, body: msg });
  // 208 Already Reported: "<message-id> has been already learned as spam, ignore it";
  // 204: "<message-id> contains less tokens than required for bayes classifier: 4 < 11".
  if (reply.status === 208 || reply.status === 204) {
    return { learned: false, alreadyLearned: reply.status === 208, reason: errorText(reply).slice(0, 200) };
  }
  expectStatus(reply, [200], `rspamd ${route}`);
  return { learned: true, alreadyLearned: false };
}

/**
 * Reads the Bayes counters from `GET /stat`. The statfile counts come from Redis, which the
 * controller re-reads every 30–60 s: right after a learn they may still show the old values.
 */
export async function stat(opts: ControllerOptions): Promise<RspamdBayesStat> {
  const what = 'rspamd /stat';
  const reply = await exchange({ ...controller(opts), method: 'GET', route: '/stat' });
  expectStatus(reply, [200], what);
  const body = json(reply, what);
  if (!Array.isArray(body.statfiles))
    throw new ProtocolError(`${what}: no statfiles`, 'EPROTOCOL', reply.status);
  const statfiles = body.statfiles as Array<Record<string, unknown>>;
  const revision = (symbol: string): number =>
    statfiles.filter((s) => s.symbol === symbol).reduce((sum, s) => sum + (num(s.revision) ?? 0), 0);
  const spam = revision('BAYES_SPAM');
  const ham = revision('BAYES_HAM');
  return {
    spam,
    ham,
    total: num(body.total_learns) ?? spam + ham,
    learnedSinceStart: num(body.learned) ?? 0,
  };
}

/** Header names {@link spamHeaders} writes; remove incoming copies first, a sender may forge them. */
export const SPAM_HEADER_NAMES = ['X-Spam', 'X-Spam-Status', 'X-Spam-Score', 'X-Spam-Action'] as const;

/** Options of {@link spamHeaders}. */
export interface SpamHeaderOptions {
  /** Prefix for the Subject of spam, e.g. `***SPAM***`; no rewrite when unset. */
  subjectPrefix?: string;
  /** The message's current Subject value (raw, may be RFC 2047 encoded). */
  subject?: string;
}

/** Encodes non-ASCII text as one RFC 2047 encoded word; ASCII stays readable. */
function encodeWord(text: string): string {
  return /^[\x20-\x7e]*$/.test(text) ? text : `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
}

/**
 * The header lines (without CRLF) to prepend to a scanned message, as the mail module does for
 * Dovecot's Sieve: `X-Spam: Yes` on spam only (what the Junk rule tests, like Rspamd's
 * proxy `spam_header`), and on every message `X-Spam-Status: Yes|No, score=S required=R`,
 * `X-Spam-Score` and `X-Spam-Action`. With a `subjectPrefix`, spam also gets a rewritten
 * `Subject:` line that replaces the original (the caller removes the old one); a subject
 * that already starts with the prefix is left alone.
 */
export function spamHeaders(
  result: Pick<RspamdScanResult, 'action' | 'score' | 'requiredScore' | 'isSpam'>,
  opts: SpamHeaderOptions = {},
): string[] {
  const yes = result.isSpam ? 'Yes' : 'No';
  const score = result.score.toFixed(2);
  const lines = [
    ...(result.isSpam ? ['X-Spam: Yes'] : []),
    `X-Spam-Status: ${yes}, score=${score} required=${result.requiredScore.toFixed(2)}`,
    `X-Spam-Score: ${score}`,
    `X-Spam-Action: ${result.action.replace(/[\r\n]+/g, ' ')}`,
  ];
  const prefix = opts.subjectPrefix?.trim();
  if (result.isSpam && prefix) {
    // Unfold (a folded Subject continues on lines starting with white space); a stray line
    // break would end the header early and let the rest pass as a header of its own.
    const subject = (opts.subject ?? '')
      .replace(/\r?\n(?=[ \t])/g, '')
      .replace(/[\r\n]+/g, ' ')
      .trim();
    if (!subject.startsWith(prefix))
      lines.push(`Subject: ${encodeWord(prefix)}${subject ? ` ${subject}` : ''}`);
  }
  return lines;
}
