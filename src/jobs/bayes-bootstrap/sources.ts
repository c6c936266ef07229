/**
 * What a bayes-bootstrap run reads in one mailbox, as IMAP searches: spam is everything in the
 * Junk folders; ham is INBOX mail that is \Seen, saved before `hamMinAgeDays` ago and without a
 * `$Junk` or `Junk` keyword (the processor's comment says why that stands for "read and never
 * moved to Junk"). Both skip messages over `bayesLearn.maxMessageKilobytes`.
 */
import type { SearchObject } from 'imapflow';
import type { LearnClass } from '../bayes-learn/learned.js';

const DAY_MS = 86_400_000;

/** One folder to read, as which class, with which search. */
export interface TrainingSource {
  class: LearnClass;
  folder: string;
  query: SearchObject;
}

export function trainingSources(
  junkFolders: readonly string[],
  opts: { hamMinAgeDays: number; maxMessageKilobytes: number; now: number },
): TrainingSource[] {
  // SMALLER n: fewer than n octets (RFC 3501 6.4.4).
  const smaller = opts.maxMessageKilobytes * 1024 + 1;
  const before = new Date(opts.now - opts.hamMinAgeDays * DAY_MS);
  return [
    ...junkFolders.map((folder): TrainingSource => ({ class: 'spam', folder, query: { smaller } })),
    {
      class: 'ham',
      folder: 'INBOX',
      query: { seen: true, before, smaller, unKeyword: '$Junk', not: { keyword: 'Junk' } },
    },
  ];
}
