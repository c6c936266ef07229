/**
 * A payload resolved into the task to run: a configured task from `sync:`, or an ad-hoc one
 * whose host is checked against `imapsync.adhoc` and whose sealed credentials are opened here
 * with the secrets key, for that host, port and user only (and only held as `Secret`s, which
 * never print their value). The payload's run modes override the task's options.
 */
import type { SyncOptions } from '../../config/sync-options.js';
import type { RemoteAccount, RemoteLogin } from '../../config/sync-schema.js';
import { type SealPurpose, type SealedField, SecretBox } from '../../core/crypto.js';
import { defaultImapPort } from '../../mail/imap-connect.js';
import type { MailSecurity } from '../../mail/tls.js';
import type { JobContext } from '../types.js';
import { checkAdhocHost } from './adhoc-host.js';
import { type AdhocTask, type ImapsyncPayload, adhocTarget, findTask } from './schema.js';

/** The task a run works on, secrets opened (as `Secret`s). */
export interface ResolvedTask {
  /** The job target and state key: the task id, or `adhoc:<user><<remote user>@<host>`. */
  target: string;
  localUser: string;
  /** `address`: an ad-hoc task's host, resolved and checked once, connected to on every (re)connect. */
  remote: RemoteAccount & { address?: string };
  options: SyncOptions;
}

function withModes(options: SyncOptions, p: ImapsyncPayload): SyncOptions {
  return {
    ...options,
    ...(p.dryRun !== undefined ? { dryRun: p.dryRun } : {}),
    ...(p.justFolders !== undefined ? { justFolders: p.justFolders } : {}),
    ...(p.testLogin !== undefined ? { testLogin: p.testLogin } : {}),
  };
}

/**
 * The one login an ad-hoc task's sealed `field` may be sent to: the dashboard's sealing and the
 * opening here agree on it, with the port a missing `port` stands for (`mailjobs seal` is
 * given the port).
 */
export function sealPurpose(
  remote: { host: string; port?: number | undefined; security: MailSecurity; username: string },
  field: SealedField,
): SealPurpose {
  return {
    host: remote.host,
    port: remote.port ?? defaultImapPort(remote.security),
    username: remote.username,
    field,
  };
}

async function adhocLogin(t: AdhocTask, box: SecretBox): Promise<RemoteLogin> {
  const r = t.remote;
  const open = (sealed: string, field: SealedField) =>
    box.open(sealed, sealPurpose(r, field), `adhoc.remote.${field}`);
  if (r.admin) {
    const password = await open(r.admin.password, 'admin.password');
    return r.admin.method === 'authzid'
      ? { kind: 'authzid', username: r.username, admin: r.admin.user, password }
      : { kind: 'master', username: r.username, admin: r.admin.user, separator: r.admin.separator, password };
  }
  return { kind: 'user', username: r.username, password: await open(r.password!, 'password') };
}

/** The task of `payload`; `{ disabled }` for a configured task that is switched off. */
export async function resolveTask(
  payload: ImapsyncPayload,
  ctx: JobContext,
): Promise<ResolvedTask | { disabled: string }> {
  if (payload.task !== undefined) {
    const task = findTask(ctx.config, payload.task);
    if (!task.enabled) return { disabled: task.id };
    return {
      target: task.id,
      localUser: task.localUser,
      remote: task.remote,
      options: withModes(task.options, payload),
    };
  }
  const t = payload.adhoc!;
  const address = await checkAdhocHost(t.remote.host, ctx.config.imapsync.adhoc);
  const box = new SecretBox(ctx.config.secrets.keyFile);
  return {
    target: adhocTarget(t),
    localUser: t.localUser,
    remote: {
      host: t.remote.host,
      address,
      port: t.remote.port,
      security: t.remote.security,
      verifyCertificate: t.remote.verifyCertificate,
      login: await adhocLogin(t, box),
    },
    options: withModes(t.options, payload),
  };
}
