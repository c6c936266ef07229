/**
 * `mailjobs oauth login <connector|task> [--refresh-token-file F]`: the first OAuth 2.0 grant of
 * an account, without a browser on the server. The Device Authorization Grant (RFC 8628)
 * prints where to go and which code to enter, on any device, and waits for the user's
 * approval; or an existing refresh token (from another tool's login) is read from a file. The
 * refresh token is stored sealed for that account's host, port and user (src/oauth/).
 */
import { readFile } from 'node:fs/promises';
import { SecretBox } from '../core/crypto.js';
import { ProtocolError } from '../core/errors.js';
import { type OAuthAccount, findOAuthAccount } from '../oauth/accounts.js';
import { deviceLogin } from '../oauth/grants.js';
import { OAuthTokenStore } from '../oauth/token-store.js';
import { openRuntime } from '../runtime.js';
import { type CliArgs, type CliDeps, EXIT_FAILED, UsageError } from './io.js';

const USAGE = 'usage: mailjobs oauth login <connector|task> [--refresh-token-file FILE]';

const describe = (a: OAuthAccount): string => `${a.kind} "${a.id}" (${a.username})`;

async function readToken(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`oauth login: --refresh-token-file ${file}: ${(err as NodeJS.ErrnoException).code}`);
  }
  const token = text.trim();
  if (token === '' || /\s/.test(token)) {
    throw new UsageError(
      `oauth login: --refresh-token-file ${file} must hold one refresh token, nothing else`,
    );
  }
  return token;
}

/** Runs the login; returns the exit code: 0 stored, 1 the authorization server said no. */
export async function oauthCommand(args: CliArgs, deps: CliDeps): Promise<number> {
  const [sub, name, ...rest] = args.positionals.slice(1);
  if (sub !== 'login' || name === undefined || rest.length > 0) throw new UsageError(USAGE);
  const imported = args.refreshTokenFile !== undefined ? await readToken(args.refreshTokenFile) : undefined;
  const rt = await openRuntime({
    configFlag: args.config,
    jobs: [],
    log: deps.log,
    startPrivateRedis: false,
  });
  try {
    let account: OAuthAccount;
    try {
      account = findOAuthAccount(rt.config, name);
    } catch (err) {
      throw new UsageError(`oauth login: ${(err as Error).message}`);
    }
    const store = new OAuthTokenStore(rt.redis, rt.key, new SecretBox(rt.config.secrets.keyFile));
    if (imported !== undefined) {
      await store.importRefreshToken(account, imported);
      await store.accessToken(account); // proves it now, rather than at the next fetch
      deps.out(`authorised ${describe(account)}: the refresh token works and is stored sealed`);
      return 0;
    }
    const tokens = await deviceLogin(account.oauth, (p) => {
      deps.out(
        `To authorise ${describe(account)}, open ${p.verificationUri} and enter the code: ${p.userCode}`,
      );
      if (p.verificationUriComplete) deps.out(`(or open ${p.verificationUriComplete})`);
      deps.out(
        `Waiting for the approval (the code expires in ${Math.round(p.expiresInSeconds / 60)} min)...`,
      );
    });
    if (!tokens.refreshToken) {
      deps.err(
        'mailjobs: the authorization server gave no refresh token: add offline_access to the scopes (Microsoft)',
      );
      return EXIT_FAILED;
    }
    await store.storeGrant(account, { ...tokens, refreshToken: tokens.refreshToken });
    deps.out(`authorised ${describe(account)}: the refresh token is stored sealed`);
    return 0;
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    deps.err(`mailjobs: oauth login ${name}: ${err.message}`);
    return EXIT_FAILED;
  } finally {
    await rt.close();
  }
}
