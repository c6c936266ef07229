/**
 * Hands one message to the local MTA for delivery, the two ways Postfix takes local mail: over
 * SMTP (its smtpd on 127.0.0.1:25, with the LMTP client's SMTP dialect) or through its
 * `sendmail` program (`-i`: a line with a single dot does not end the message; `-f`: the
 * envelope sender; the recipient after `--`, so it is never read as an option).
 *
 * Errors: {@link ProtocolError} (`ECONNECTION`, `ETIMEOUT`, `EENVELOPE`, `EMESSAGE` from SMTP;
 * `ESENDMAIL` when sendmail exits non-zero or cannot run, with its stderr).
 */
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { ProtocolError } from '../core/errors.js';
import { LmtpClient } from './lmtp.js';
import { checkRecipient, checkSender } from './smtp-address.js';

/** Where the message goes: an SMTP server, or a sendmail program (with Postfix's `-C` folder). */
export type SubmitRoute =
  | { via: 'smtp'; host: string; port: number; timeoutMs: number }
  | { via: 'sendmail'; path: string; configDir?: string; timeoutMs: number };

export interface Submission {
  from: string;
  to: string;
  message: Buffer;
}

/** Postfix's sendmail reads its config from here unless told otherwise with `-C`. */
const DEFAULT_POSTFIX_CONFIG = '/etc/postfix';

async function overSmtp(route: Extract<SubmitRoute, { via: 'smtp' }>, s: Submission): Promise<void> {
  const client = new LmtpClient(
    { host: route.host, port: route.port },
    {
      protocol: 'SMTP',
      lhloName: hostname(),
      connectTimeoutMs: route.timeoutMs,
      commandTimeoutMs: route.timeoutMs,
      dataTimeoutMs: route.timeoutMs,
    },
  );
  await client.connect();
  try {
    await client.deliver(s);
  } finally {
    await client.close();
  }
}

function withSendmail(route: Extract<SubmitRoute, { via: 'sendmail' }>, s: Submission): Promise<void> {
  const config = route.configDir && route.configDir !== DEFAULT_POSTFIX_CONFIG ? ['-C', route.configDir] : [];
  const args = [...config, '-i', '-f', s.from, '--', s.to];
  return new Promise((resolve, reject) => {
    const child = spawn(route.path, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), route.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new ProtocolError(`cannot run ${route.path}: ${err.message}`, 'ESENDMAIL'));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else {
        const why = signal ? `killed (${signal})` : `exit ${code}`;
        reject(new ProtocolError(`${route.path} failed (${why}): ${stderr.trim()}`, 'ESENDMAIL'));
      }
    });
    child.stdin.on('error', () => undefined); // an early exit is reported by 'close'
    child.stdin.end(s.message);
  });
}

/** Submits one message for one recipient; resolves once the MTA has taken it. */
export async function submitMessage(route: SubmitRoute, s: Submission): Promise<void> {
  checkSender(s.from);
  checkRecipient(s.to);
  if (s.to.startsWith('-'))
    throw new ProtocolError(`invalid recipient address ${JSON.stringify(s.to)}`, 'EENVELOPE');
  if (route.via === 'smtp') await overSmtp(route, s);
  else await withSendmail(route, s);
}
