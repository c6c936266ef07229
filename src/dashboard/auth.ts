/**
 * The one gate every request passes (a global onRequest hook): security headers, the session,
 * CSRF and the role. Nothing but the login page and the static assets answers without a
 * session, Bull Board included. Also the login form (rate-limited, pre-session CSRF token) and
 * logout.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { hostAllowed, securityHeaders } from './headers.js';
import { bearerAllowed } from './probes.js';
import { writesJobData } from './bull-board.js';
import { html } from './html.js';
import { assetUrl, frame } from './layout.js';
import { verifyPassword } from './password.js';
import type { LoginRateLimiter } from './rate-limit.js';
import { grantOf, randomToken, tokensEqual, type Session, type SessionStore } from './sessions.js';
import type { DashboardDeps, Role, SessionUser } from './types.js';

export const SESSION_COOKIE = 'mailjobs_session';
export const LOGIN_CSRF_COOKIE = 'mailjobs_login_csrf';
export const CSRF_HEADER = 'x-csrf-token';

/**
 * Who may reach a route: `public` (login, assets, probes), else a session; `admin` also the
 * role; `metrics` a session or the bearer token of `metrics.tokenFile`.
 */
export type Access = 'public' | 'metrics' | Role;

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    dashboardUser: SessionUser | null;
    dashboardSession: (Session & { id: string }) | null;
  }
}

export interface AuthContext extends Pick<DashboardDeps, 'rt'> {
  readonly sessions: SessionStore;
  readonly limiter: LoginRateLimiter;
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

function findUser(ctx: AuthContext, name: string) {
  const u = ctx.rt.config.dashboard.users.find((x) => x.name === name);
  return u && { name: u.name, role: u.role, passwordHash: u.passwordHash.reveal() };
}

/**
 * The session's user as the running config has it now; undefined when a reload (SIGHUP)
 * removed the user or changed their password or role since the login: that ends the session.
 */
function currentUser(ctx: AuthContext, session: Session): SessionUser | undefined {
  const u = findUser(ctx, session.user);
  return u && tokensEqual(grantOf(u), session.grant) ? { name: u.name, role: u.role } : undefined;
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
  securityHeaders(req, reply, bullBoard);
  if (!hostAllowed(req, ctx.rt.config.dashboard.allowedHosts))
    return refuse(reply, 421, 'unknown host name: add it to dashboard.allowedHosts');
  const access = req.routeOptions.config.access;
  if (access === 'public') return;
  reply.header('cache-control', 'no-store');
  if (access === 'metrics' && bearerAllowed(req, ctx.rt)) return;

  const id = req.cookies[SESSION_COOKIE];
  const session = await ctx.sessions.get(id);
  const user = session ? currentUser(ctx, session) : undefined;
  if (session && !user) {
    await ctx.sessions.destroy(id);
    ctx.rt.log.info(
      { user: session.user },
      'dashboard session ended: user removed, or password or role changed',
    );
  }
  if (!session || !user) {
    const path = req.url.split('?')[0]!;
    if (access === 'metrics')
      return refuse(reply.header('www-authenticate', 'Bearer'), 401, 'login or bearer token required');
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
    if (writesJobData(req.method, route))
      return refuse(
        reply,
        403,
        'Bull Board cannot add jobs or change job data here (no validation or sealing): use the dashboard pages or "mailjobs enqueue"',
      );
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

/** The login and logout forms: plain text fields; anything else (a repeated field) is a 400. */
const formField = z.string().max(1024).optional();
const loginForm = z.object({ user: formField, password: formField, _csrf: formField });
const logoutForm = z.object({ _csrf: formField });

/**
 * Login and logout take form bodies only: refused (400) before any parser runs, so a JSON
 * body (an object as `_csrf`, deep nesting) never reaches them.
 */
async function formOnly(req: FastifyRequest, reply: FastifyReply) {
  const header = req.headers['content-type'];
  if (header === undefined) return; // no body: an empty form (its token is missing, so 403)
  if (header.split(';')[0]!.trim().toLowerCase() !== 'application/x-www-form-urlencoded')
    return refuse(reply, 400, 'a form body (application/x-www-form-urlencoded) is expected');
}

function readForm<T>(schema: z.ZodType<T>, req: FastifyRequest, reply: FastifyReply): T | undefined {
  const r = schema.safeParse(req.body ?? {});
  if (!r.success) void refuse(reply, 400, `malformed form field: ${String(r.error.issues[0]?.path[0])}`);
  return r.data;
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

  // Browsers ask for it where a page names no icon (a JSON view, Bull Board's API); public, so
  // it never reaches the login redirect.
  app.get('/favicon.ico', { config: { access: 'public' } }, async (_req, reply) =>
    reply.redirect(assetUrl('favicon.svg'), 301),
  );

  app.get('/login', { config: { access: 'public' } }, async (req, reply) => {
    if (await ctx.sessions.get(req.cookies[SESSION_COOKIE])) return reply.redirect('/', 302);
    return showLogin(req, reply, 200);
  });

  app.post('/login', { config: { access: 'public' }, onRequest: formOnly }, async (req, reply) => {
    const body = readForm(loginForm, req, reply);
    if (!body) return reply;
    if (!tokensEqual(body._csrf, req.cookies[LOGIN_CSRF_COOKIE]))
      return showLogin(req, reply, 403, 'The form expired; please log in again.');
    const name = (body.user ?? '').slice(0, 200);
    const refused = await ctx.limiter.attempt(req.ip, name);
    if (refused) {
      const { scope, retryAfter } = refused;
      ctx.rt.log.warn({ user: name, address: req.ip, scope, retryAfter }, 'dashboard login rate-limited');
      reply.header('retry-after', String(retryAfter));
      const wait = retryAfter < 120 ? `${retryAfter} s` : `${Math.ceil(retryAfter / 60)} min`;
      return showLogin(req, reply, 429, `Too many failed logins; try again in ${wait}.`);
    }
    const account = findUser(ctx, name);
    if (!(await verifyPassword(body.password ?? '', account?.passwordHash)) || !account) {
      ctx.rt.log.warn({ user: name, address: req.ip }, 'dashboard login failed');
      return showLogin(req, reply, 401, 'Wrong user name or password.');
    }
    await ctx.limiter.succeeded(req.ip, name);
    const lifetime = ctx.rt.config.dashboard.sessionHours * 3600;
    const { id } = await ctx.sessions.create(account.name, grantOf(account), lifetime);
    ctx.rt.log.info({ user: account.name, role: account.role, address: req.ip }, 'dashboard login');
    return reply
      .clearCookie(LOGIN_CSRF_COOKIE, cookieOptions(ctx, req))
      .setCookie(SESSION_COOKIE, id, cookieOptions(ctx, req, lifetime))
      .redirect('/', 303);
  });

  app.post('/logout', { onRequest: formOnly }, async (req, reply) => {
    const session = req.dashboardSession!;
    const body = readForm(logoutForm, req, reply);
    if (!body) return reply;
    if (!tokensEqual(body._csrf, session.csrf)) return refuse(reply, 403, 'missing or wrong CSRF token');
    await ctx.sessions.destroy(session.id);
    ctx.rt.log.info({ user: session.user }, 'dashboard logout');
    return reply.clearCookie(SESSION_COOKIE, cookieOptions(ctx, req)).redirect('/login', 303);
  });
}
