/**
 * The notification mails: one per quarantined message (`notify: each`, as the mail module's
 * manual has it) or one list (`notify: digest`). They carry the envelope, the headers shown
 * and Rspamd's verdict, never a byte of the body. Sent like the alerts (`alerts.via`).
 */
import { CronExpressionParser } from 'cron-parser';
import type { Config } from '../../config/schema.js';
import { alertHost, sendAlertMail } from '../alerts/send.js';
import type { QuarantineItem } from './store.js';

/** Control characters out, length bounded: the sender wrote these. */
const shown = (text: string, max = 200): string => {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
};

const sender = (i: QuarantineItem): string =>
  i.from === undefined ? '(unknown)' : i.from === '' ? '<> (null sender)' : i.from;

const score = (i: QuarantineItem): string =>
  i.score === undefined
    ? '(unknown)'
    : `${i.score.toFixed(2)}${i.threshold !== undefined ? ` / ${i.threshold.toFixed(2)}` : ''}`;

/** The facts of one message, one per line. */
export function itemLines(i: QuarantineItem): string[] {
  return [
    `Quarantine id:  ${i.id}`,
    `Quarantined:    ${i.quarantinedAt ?? i.savedAt}`,
    `Envelope from:  ${shown(sender(i))}`,
    `Envelope to:    ${i.to.length ? i.to.join(', ') : '(unknown)'}`,
    `From:           ${shown(i.headerFrom)}`,
    `Subject:        ${shown(i.subject)}`,
    ...(i.messageId ? [`Message-ID:     ${shown(i.messageId)}`] : []),
    `Size:           ${i.size} bytes`,
    `Queue id:       ${i.queueId ?? '(unknown)'}`,
    `Action, score:  ${i.action ?? '(unknown)'}, ${score(i)}`,
    `Symbols:        ${i.symbols.map((s) => `${s.name}(${s.score.toFixed(2)})`).join(', ') || '(none)'}`,
    ...(i.notReleasable ? [`Not releasable: ${i.notReleasable}`] : []),
  ];
}

const footer = (config: Config, ids: string[]): string[] => [
  '',
  `Release: mailjobs quarantine release ${ids.length === 1 ? ids[0] : 'ID'} [--learn-ham]`,
  `Delete:  mailjobs quarantine delete ${ids.length === 1 ? ids[0] : 'ID'}`,
  `Or the Quarantine page of the dashboard on ${alertHost()}.`,
  `Messages are expunged ${config.quarantine.retentionDays} days after they were quarantined (quarantine.retentionDays).`,
  'The message itself is not part of this mail.',
];

/** The mail about one message. */
export function eachMail(config: Config, i: QuarantineItem): { subject: string; lines: string[] } {
  return {
    subject: `[mailjobs ${alertHost()}] quarantined: ${shown(i.subject, 120) || '(no subject)'}`,
    lines: [
      'A message was quarantined instead of delivered.',
      '',
      ...itemLines(i),
      ...footer(config, [i.id]),
    ],
  };
}

/** The digest of `items`. */
export function digestMail(config: Config, items: QuarantineItem[]): { subject: string; lines: string[] } {
  const n = items.length;
  return {
    subject: `[mailjobs ${alertHost()}] quarantine: ${n} new message${n === 1 ? '' : 's'}`,
    lines: [
      `${n} message${n === 1 ? ' was' : 's were'} quarantined since the last digest.`,
      ...items.flatMap((i) => ['', ...itemLines(i)]),
      ...footer(
        config,
        items.map((i) => i.id),
      ),
    ],
  };
}

/** Sends one notification to `quarantine.notifyTo`. */
export async function sendNotification(
  config: Config,
  mail: { subject: string; lines: string[] },
): Promise<void> {
  await sendAlertMail(config, mail, config.quarantine.notifyTo);
}

/**
 * Whether a digest is due: a time of `cron` has passed since the last one (`lastAt`). With no
 * last digest the clock starts now: the first one goes at the next time of `cron`.
 */
export function digestDue(cron: string, lastAt: number | undefined, now: number): boolean {
  if (lastAt === undefined) return false;
  const previous = CronExpressionParser.parse(cron, { currentDate: new Date(now) })
    .prev()
    .getTime();
  return previous > lastAt;
}
