/**
 * Installs contrib/rspamd and contrib/postfix for a test exactly as the README's "Quarantine"
 * section says: the plugin unedited into plugins.d/, rspamd.conf.local with only the lines the
 * README tells an admin to edit changed, and main.cf with the milter lines (the port is the
 * test's own proxy worker instead of 11332), and the chain of private daemons using them.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startPostfix, type PostfixFixture } from '../fixtures/postfix.js';
import { startRspamd, type RspamdFixture } from '../fixtures/rspamd.js';

const CONTRIB = fileURLToPath(new URL('../../contrib/', import.meta.url));

/** Replaces `from` by `to` in `text`, failing loudly when the shipped file no longer has it. */
function edit(text: string, from: string, to: string): string {
  if (!text.includes(from))
    throw new Error(`contrib file changed: "${from}" not found; update test/quarantine`);
  return text.replace(from, to);
}

/** Files for the Rspamd fixture's `localFiles` (paths relative to /etc/rspamd). */
export async function rspamdFiles(mailbox: string, quarantine = true): Promise<Record<string, string>> {
  let conf = await readFile(`${CONTRIB}rspamd/rspamd.conf.local`, 'utf8');
  conf = edit(conf, 'mailbox = "quarantine@example.com";', `mailbox = "${mailbox}";`);
  if (!quarantine) conf = edit(conf, 'quarantine = true;', 'quarantine = false;');
  return {
    'plugins.d/mailjobs_quarantine.lua': await readFile(
      `${CONTRIB}rspamd/plugins.d/mailjobs_quarantine.lua`,
      'utf8',
    ),
    'rspamd.conf.local': conf,
  };
}

/** contrib/postfix/main.cf, pointed at the test's milter port. */
export async function postfixMainCf(milterPort: number): Promise<string> {
  const text = await readFile(`${CONTRIB}postfix/main.cf`, 'utf8');
  return edit(text, 'inet:127.0.0.1:11332', `inet:127.0.0.1:${milterPort}`);
}

/** Test only, after the contrib lines: a delivery deferred by a loaded machine (Dovecot slow to
 * answer LMTP) is retried within seconds rather than Postfix's minutes. */
const FAST_RETRY = 'queue_run_delay = 1s\nminimal_backoff_time = 1s\nmaximal_backoff_time = 2s\n';

/** A private Rspamd with contrib installed (quarantine on or off) and a Postfix using it as milter. */
export interface QuarantineChain {
  rspamd: RspamdFixture;
  postfix: PostfixFixture;
  stop(): Promise<void>;
}

/**
 * Starts the chain SMTP → Postfix → Rspamd milter (contrib as the README installs it) → LMTP into
 * the Dovecot at `lmtpPort`. `localFiles` are the test's own extra Rspamd files.
 */
export async function startQuarantineChain(opts: {
  redisUrl: string;
  lmtpPort: number;
  mailbox: string;
  quarantine?: boolean;
  localFiles?: Record<string, string>;
}): Promise<QuarantineChain> {
  const rspamd = await startRspamd({
    redisUrl: opts.redisUrl,
    milter: true,
    localFiles: { ...(await rspamdFiles(opts.mailbox, opts.quarantine ?? true)), ...opts.localFiles },
  });
  try {
    const postfix = await startPostfix({
      localLmtpPort: opts.lmtpPort,
      mainCfExtra: `${await postfixMainCf(rspamd.milterPort as number)}${FAST_RETRY}`,
    });
    return {
      rspamd,
      postfix,
      stop: async () => void (await Promise.allSettled([postfix.stop(), rspamd.stop()])),
    };
  } catch (err) {
    await rspamd.stop();
    throw err;
  }
}
