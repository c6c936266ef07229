/**
 * The one gate every request passes (a global onRequest hook): security headers, the session,
 * CSRF and the role. Nothing but the login page and the static assets answers without a
 * session, Bull Board included. Also the login form (rate-limited, pre-session CSRF token) and
 * logout.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { html } from './html.js';
import { frame } from './layout.js';
import { verifyPassword } from './password.js';
import type { LoginRateLimiter } from './rate-limit.js';
import { randomToken, tokensEqual, type Session, type SessionStore } from './sessions.js';
import type { DashboardDeps, Role, SessionUser } from './types.js';

export const SESSION_COOKIE = 'mailjobs_session';
export const LOGIN_CSRF_COOKIE = 'mailjobs_login_csrf';
export const CSRF_HEADER = 'x-csrf-token';

/** Who may reach a route: `public` (login, assets), else a session; `admin` also the role. */
export type Access = 'public' | Role;

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    dashboardUser: SessionUser | null;
    dashboardSession: (Session & { id: string }) | null;
  }
}

export interface AuthContext extends DashboardDeps {
  readonly sessions: SessionStore;
  readonly limiter: LoginRateLimiter;
}

const BASE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
];

function securityHeaders(reply: FastifyReply, bullBoard: boolean): void {
  // Bull Board's React UI sets style attributes; our pages need no inline style at all.
  const style = bullBoard ? "style-src 'self' 'unsafe-inline'" : "style-src 'self'";
  reply.headers({
    'content-security-policy': [...BASE_CSP, style].join('; '),
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
  });
}

function secureCookie(ctx: AuthContext, req: FastifyRequest): boolean {
  const setting = ctx.rt.config.dashboard.secureCookie;
  return setting === 'auto' ? req.protocol === 'https' : setting;
}

function cookieOptions(ctx: AuthContext, req: FastifyRequest, maxAge?: number) {
  return {
    path: '/',
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: secureCookie(ctx, req),
    ...(maxAge !== undefined ? { maxAge } : {}),
  };
}

/** The session's user as the running config has it now (SIGHUP may have removed or changed it). */
function currentUser(ctx: AuthContext, name: string): SessionUser | undefined {
  const u = ctx.rt.config.dashboard.users.find((x) => x.name === name);
  return u ? { name: u.name, role: u.role } : undefined;
}

/**
 * A browser's own same-origin call: Bull Board cannot send our CSRF header, so its mutating
 * calls must carry `Sec-Fetch-Site: same-origin` or an `Origin` equal to this host.
 */
export function sameOrigin(req: FastifyRequest): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin';
  const origin = req.headers.origin;
  if (!origin) return false;
  try {
    const o = new URL(origin);
    return o.host === req.host && o.protocol === `${req.protocol}:`;
  } catch {
    return false;
  }
}

function refuse(reply: FastifyReply, status: number, error: string) {
  return reply.code(status).header('cache-control', 'no-store').send({ error });
}

function isJsonPath(url: string): boolean {
  return url.startsWith('/api/') || url.startsWith('/queues/api/');
}

async function gate(ctx: AuthContext, req: FastifyRequest, reply: FastifyReply) {
  const route = req.routeOptions.url ?? '';
  const bullBoard = route === '/queues' || route.startsWith('/queues/');
  securityHeaders(reply, bullBoard);
  const access = req.routeOptions.config.access;
  if (access === 'public') return;
  reply.header('cache-control', 'no-store');

  const id = req.cookies[SESSION_COOKIE];
  const session = await ctx.sessions.get(id);
  const user = session ? currentUser(ctx, session.user) : undefined;
  if (!session || !user) {
    const path = req.url.split('?')[0]!;
    if (isJsonPath(path) || (req.method !== 'GET' && req.method !== 'HEAD'))
      return refuse(reply, 401, 'login required');
    return reply.redirect('/login', 302);
  }
  req.dashboardUser = user;
  req.dashboardSession = { ...session, id: id! };

  const mutating = req.method !== 'GET' && req.method !== 'HEAD';
  if (bullBoard) {
    if (mutating && !sameOrigin(req)) return refuse(reply, 403, 'cross-site request refused');
    if (mutating && user.role !== 'admin') return refuse(reply, 403, 'read-only user: admin role required');
    return;
  }
  if (route.startsWith('/api/')) {
    if (mutating && !tokensEqual(req.headers[CSRF_HEADER] as string | undefined, session.csrf))
      return refuse(reply, 403, 'missing or wrong CSRF token (X-CSRF-Token)');
    if (access === 'admin' && user.role !== 'admin')
      return refuse(reply, 403, 'read-only user: admin role required');
    return;
  }
  // Our own form posts (logout) check their _csrf field in the handler; nothing else mutates.
  if (mutating && route !== '/logout') return refuse(reply, 403, 'refused');
}

function loginPage(ctx: AuthContext, token: string, message?: string): string {
  const noUsers = ctx.rt.config.dashboard.users.length === 0;
  return frame({
    title: 'Log in',
    pages: [],
    body: html`<section class="login">
      <h1>mailjobs</h1>
      ${message ? html`<p class="error" role="alert">${message}</p>` : ''}
      ${
        noUsers
          ? html`<p class="warning">
              No dashboard user exists yet. On the server, run
              <code>mailjobs dashboard add-user NAME --role admin</code>, then reload mailjobs (SIGHUP) or
              restart it.
            </p>`
          : ''
      }
      <form method="post" action="/login">
        <input type="hidden" name="_csrf" value="${token}" />
        <label>User <input name="user" autocomplete="username" required autofocus /></label>
        <label
          >Password <input name="password" type="password" autocomplete="current-password" required
        /></label>
        <button type="submit">Log in</button>
      </form>
    </section>`,
  });
}

interface LoginBody {
  user?: string;
  password?: string;
  _csrf?: string;
}

/** Registers the gate and the login/logout routes. */
export function registerAuth(app: FastifyInstance, ctx: AuthContext): void {
  app.decorateRequest('dashboardUser', null);
  app.decorateRequest('dashboardSession', null);
  app.addHook('onRequest', (req, reply) => gate(ctx, req, reply));

  const showLogin = (req: FastifyRequest, reply: FastifyReply, status: number, message?: string) => {
    // Kept while it lasts: a second login page (another tab, a redirected favicon request)
    // must not invalidate the form already shown.
    const have = req.cookies[LOGIN_CSRF_COOKIE];
    const token = have && /^[\w-]{43}$/.test(have) ? have : randomToken();
    return reply
      .code(status)
      .header('cache-control', 'no-store')
      .setCookie(LOGIN_CSRF_COOKIE, token, cookieOptions(ctx, req, 3600))
      .type('text/html; charset=utf-8')
      .send(loginPage(ctx, token, message));
  };

  // Browsers ask for it on every page; answered here so it never reaches the login redirect.
  app.get('/favicon.ico', { config: { access: 'public' } }, async (_req, reply) => reply.code(404).send());

  app.get('/login', { config: { access: 'public' } }, async (req, reply) => {
    if (await ctx.sessions.get(req.cookies[SESSION_COOKIE])) return reply.redirect('/', 302);
    return showLogin(req, reply, 200);
  });

  app.post<{ Body: LoginBody }>('/login', { config: { access: 'public' } }, async (req, reply) => {
    const body = (req.body ?? {}) as LoginBody;
    if (!tokensEqual(body._csrf, req.cookies[LOGIN_CSRF_COOKIE]))
      return showLogin(req, reply, 403, 'The form expired; please log in again.');
    const name = String(body.user ?? '').slice(0, 200);
    const password = String(body.password ?? '');
    const wait = await ctx.limiter.retryAfter(req.ip, name);
    if (wait > 0) {
      ctx.rt.log.warn({ user: name, address: req.ip, retryAfter: wait }, 'dashboard login rate-limited');
      reply.header('retry-after', String(wait));
      return showLogin(req, reply, 429, `Too many failed logins; try again in ${Math.ceil(wait / 60)} min.`);
    }
    const account = ctx.rt.config.dashboard.users.find((u) => u.name === name);
    if (!(await verifyPassword(password, account?.passwordHash.reveal())) || !account) {
      await ctx.limiter.recordFailure(req.ip, name);
      ctx.rt.log.warn({ user: name, address: req.ip }, 'dashboard login failed');
      return showLogin(req, reply, 401, 'Wrong user name or password.');
    }
    await ctx.limiter.recordSuccess(name);
    const lifetime = ctx.rt.config.dashboard.sessionHours * 3600;
    const { id } = await ctx.sessions.create(account.name, lifetime);
    ctx.rt.log.info({ user: account.name, role: account.role, address: req.ip }, 'dashboard login');
    return reply
      .clearCookie(LOGIN_CSRF_COOKIE, cookieOptions(ctx, req))
      .setCookie(SESSION_COOKIE, id, cookieOptions(ctx, req, lifetime))
      .redirect('/', 303);
  });

  app.post<{ Body: { _csrf?: string } }>('/logout', async (req, reply) => {
    const session = req.dashboardSession!;
    if (!tokensEqual((req.body ?? {})._csrf, session.csrf))
      return refuse(reply, 403, 'missing or wrong CSRF token');
    await ctx.sessions.destroy(session.id);
    ctx.rt.log.info({ user: session.user }, 'dashboard logout');
    return reply.clearCookie(SESSION_COOKIE, cookieOptions(ctx, req)).redirect('/login', 303);
  });
}
