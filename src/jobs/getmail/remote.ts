/**
 * Opens a connector's remote account as a `RemoteSession`: POP3 (our client, pipelined RETR)
 * or IMAP (imapflow, BODY.PEEK so nothing becomes \Seen before we delete it).
 */
import type { ImapFlow } from 'imapflow';
import type { ConnectorConfig } from '../../config/schema.js';
import { jobHostSessions } from '../../core/host-sessions.js';
import {
  connectImap,
  deleteUids,
  downloadTo,
  listFetchFolders,
  listUids,
  openFolder,
  sizesOf,
} from '../../mail/imap.js';
import type { ImapConnectOptions } from '../../mail/imap-connect.js';
import { Pop3Client } from '../../mail/pop3.js';
import { defaultMailPort } from '../../mail/ports.js';
import { connectorOAuthAccount } from '../../oauth/accounts.js';
import { jobTokenStore } from '../../oauth/token-store.js';
import { MessageSpool } from '../../mail/spool.js';
import type { JobContext } from '../types.js';
import type { RemoteFolder, RemoteSession } from './source.js';

/** What opening a connector's account takes: a job's context, or the push watcher's. */
export type RemoteContext = Pick<JobContext, 'config' | 'log' | 'signal' | 'redis' | 'key'>;

function connectionOptions(c: ConnectorConfig, ctx: RemoteContext) {
  if (!c.verifyCertificate && c.security !== 'none') {
    ctx.log.warn({ host: c.host }, 'TLS certificate verification is off for this connector');
  }
  const g = ctx.config.getmail;
  return {
    host: c.host,
    port: c.port ?? defaultMailPort(c.protocol, c.security),
    security: c.security,
    verifyCertificate: c.verifyCertificate,
    connectTimeoutMs: g.connectTimeoutSeconds * 1000,
    signal: ctx.signal,
  };
}

async function openPop3(c: ConnectorConfig, ctx: JobContext): Promise<RemoteSession> {
  const opts = connectionOptions(c, ctx);
  const client = await Pop3Client.connect({
    ...opts,
    commandTimeoutMs: ctx.config.getmail.commandTimeoutSeconds * 1000,
  });
  try {
    const { login } = c;
    if (login.kind === 'password') await client.login(c.username, login.password.reveal());
    else
      await jobTokenStore(ctx).loginWith(connectorOAuthAccount(c, login.oauth), (token) =>
        client.authenticateOAuth(c.username, token),
      );
  } catch (err) {
    client.close();
    throw err;
  }
  return {
    protocol: 'pop3',
    tls: c.security !== 'none',
    async *folders(): AsyncGenerator<RemoteFolder> {
      const [uidl, sizes] = await Promise.all([client.uidl(), client.list()]);
      yield {
        name: 'INBOX',
        validity: 'pop3',
        messages: [...uidl].map(([ref, id]) => ({ id, ref, size: sizes.get(ref) ?? 0 })),
        retrieveEach: (refs, onMessage) => client.retrieveMany(refs, onMessage),
        async delete(refs) {
          // Issued at once: the client pipelines them when the server offers PIPELINING.
          await Promise.all(refs.map((ref) => client.delete(ref)));
        },
      };
    },
    close: () => client.quit(), // QUIT commits the DELEs (RFC 1939 UPDATE state)
  };
}

function imapFolder(
  client: ImapFlow,
  path: string,
  validity: string,
  sizes: Map<number, number>,
): RemoteFolder {
  return {
    name: path,
    validity,
    messages: [...sizes].map(([uid, size]) => ({ id: String(uid), ref: uid, size })),
    async retrieveEach(refs, onMessage) {
      for (const uid of refs) {
        const spool = new MessageSpool();
        try {
          if (!(await downloadTo(client, uid, spool))) continue; // expunged meanwhile
          await spool.close();
        } catch (err) {
          await spool.dispose();
          throw err;
        }
        await onMessage(uid, spool);
      }
    },
    async delete(refs) {
      await deleteUids(client, refs);
    },
  };
}

/**
 * Connects to a connector's IMAP account and logs in (password, or OAuth2 with the stored
 * token, refreshed when needed). `extra` adds session options (the push watcher's IDLE period).
 */
export async function loginImap(
  c: ConnectorConfig,
  ctx: RemoteContext,
  extra: Partial<ImapConnectOptions> = {},
): Promise<ImapFlow> {
  const opts = {
    ...connectionOptions(c, ctx),
    socketTimeoutMs: ctx.config.getmail.commandTimeoutSeconds * 1000,
    user: c.username,
    ...extra,
  };
  const { login } = c;
  return login.kind === 'password'
    ? connectImap({ ...opts, password: login.password.reveal() })
    : jobTokenStore(ctx).loginWith(connectorOAuthAccount(c, login.oauth), (accessToken) =>
        connectImap({ ...opts, accessToken }),
      );
}

async function openImap(c: ConnectorConfig, ctx: JobContext): Promise<RemoteSession> {
  const client = await loginImap(c, ctx);
  return {
    protocol: 'imap',
    tls: c.security !== 'none',
    async *folders(): AsyncGenerator<RemoteFolder> {
      for (const f of await listFetchFolders(client, c.folders)) {
        // EXAMINE when nothing will be deleted: then nothing in the folder can change.
        const box = await openFolder(client, f.path, { readOnly: c.delete === 'never' });
        const sizes =
          box.exists > 0 ? await sizesOf(client, await listUids(client)) : new Map<number, number>();
        yield imapFolder(client, f.path, box.uidValidity, sizes);
      }
    },
    async close() {
      await client.logout().catch(() => client.close());
    },
  };
}

/** Opens the session once the remote host has a free slot (`remoteSessionsPerHost`), held till close. */
export async function openRemote(connector: ConnectorConfig, ctx: JobContext): Promise<RemoteSession> {
  const release = await jobHostSessions(ctx).acquire(connector.host, ctx.signal);
  let session: RemoteSession;
  try {
    session = connector.protocol === 'pop3' ? await openPop3(connector, ctx) : await openImap(connector, ctx);
  } catch (err) {
    await release();
    throw err;
  }
  return {
    ...session,
    async close() {
      try {
        await session.close();
      } finally {
        await release();
      }
    },
  };
}
