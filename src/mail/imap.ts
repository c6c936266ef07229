/**
 * The thin IMAP layer over imapflow 2.x that getmail, spam-expunge, bayes-bootstrap and
 * quarantine use. Split by side so each file stays small:
 * - `imap-connect.ts`: {@link connectImap} with our security modes, {@link masterUserLogin};
 * - `imap-errors.ts`: {@link classifyImapError}, imapflow's failures in our error types;
 * - `imap-folders.ts`: the remote side: folders, UIDs, sizes, download without \Seen, delete;
 * - `imap-local.ts`: the local side: {@link localMessageExists} for crash recovery,
 *   {@link topmostHeaderValues} for rebuilding lost state;
 * - `imap-junk.ts`: the Junk folder: {@link findJunkFolders}, {@link expungeOlderThan};
 * - `imap-training.ts`: messages read for training Bayes: {@link searchFolder}, {@link readMessages}.
 *
 * imapsync imports its protocol modules directly (`imap-sync-list.ts`, `imap-sync-fetch.ts`,
 * `imap-sync-flags.ts`, `imap-append.ts` over `imap-wire.ts`); its folder rules and message
 * identity are job policy and live in src/jobs/imapsync/.
 *
 * Every function here throws our typed errors (`AuthenticationError`, `ProtocolError` with
 * `ETIMEOUT` / `ECONNECTION` / `ETLS` / `EPROTOCOL`, `PermanentJobError` `ENOMAILBOX`), or the
 * abort reason of the signal given to `connectImap`.
 */
export { type ImapConnectOptions, connectImap, imapFlowOptions, masterUserLogin } from './imap-connect.js';
export { type ImapErrorContext, classifyImapError } from './imap-errors.js';
export {
  type DownloadResult,
  type OpenFolder,
  deleteUids,
  downloadTo,
  listFetchFolders,
  listUids,
  openFolder,
  sizesOf,
  uidSets,
} from './imap-folders.js';
export {
  type LocalMailboxOptions,
  findByHeader,
  localMessageExists,
  topmostHeaderValues,
} from './imap-local.js';
export { type ExpungeOptions, type ExpungeOutcome, expungeOlderThan, findJunkFolders } from './imap-junk.js';
export { type TrainingMessage, readMessages, searchFolder } from './imap-training.js';
