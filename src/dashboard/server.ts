/**
 * The dashboard's HTTP server (Fastify): the gate and login (auth.ts), the admin pages and
 * their JSON API (pages/index.ts), Bull Board at /queues, and the static assets. Listens on
 * `dashboard.bind:port` (127.0.0.1:8080 by default). Users and roles are read from the running
 * config on every request, so a SIGHUP reload applies them at once.
 */
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { SharedQueueListing } from '../jobs/queue-monitor/index.js';
import { DeviceLogins } from '../oauth/device-logins.js';
import { jobTokenStore } from '../oauth/token-store.js';
import type { Runtime } from '../runtime.js';
import { registerApiRoutes } from './api.js';
import { registerAssets } from './assets-route.js';
import { registerAuth } from './auth.js';
import { registerBullBoard } from './bull-board.js';
import { frame } from './layout.js';
import { pages as defaultPages } from './pages/index.js';
import { metricsListener, registerProbes } from './probes.js';
import { LoginRateLimiter } from './rate-limit.js';
import { SessionStore } from './sessions.js';
import type { DashboardDeps, PageModule } from './types.js';

export interface DashboardOptions {
  /** Overrides `dashboard.port` (0: any free port, for tests). */
  port?: number;
  /** Overrides `dashboard.bind`. */
  bind?: string;
  /** Overrides `metrics.port` (0: any free port, for tests). */
  metricsPort?: number;
  /** The admin pages (default: pages/index.ts). */
  pages?: readonly PageModule[];
}

export interface DashboardServer {
  readonly app: FastifyInstance;
  /** `http://<bind>:<port>` */
  readonly url: string;
  /** The `metrics.port` listener's `http://<bind>:<port>`, when there is one. */
  readonly metricsUrl?: string;
  close(): Promise<void>;
}

function registerPages(app: FastifyInstance, pages: readonly PageModule[], deps: DashboardDeps): void {
  app.get('/', async (_req, reply) => reply.redirect(pages[0]?.path ?? '/queues/', 302));
  for (const page of pages) {
    app.get(page.path, async (req, reply) => {
      const user = req.dashboardUser!;
      const body = await page.render(deps, user);
      return reply.type('text/html; charset=utf-8').send(
        frame({
          title: page.title,
          pages,
          current: page.path,
          user,
          csrf: req.dashboardSession!.csrf,
          scripts: ['api.js', ...page.scripts],
          body,
        }),
      );
    });
  }
}

/** What pages and API handlers share for the server's lifetime. */
export function dashboardDeps(rt: Runtime): DashboardDeps {
  const deviceLogins = new DeviceLogins(rt.redis, rt.key, jobTokenStore(rt), rt.log);
  return { rt, queueListing: new SharedQueueListing(), deviceLogins };
}

/** Builds the server without listening (tests may `inject`). */
export async function buildDashboard(rt: Runtime, opts: DashboardOptions = {}): Promise<FastifyInstance> {
  const pages = opts.pages ?? defaultPages;
  const deps = dashboardDeps(rt);
  const app = Fastify({
    loggerInstance: rt.log.child({ component: 'dashboard' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: rt.config.dashboard.trustProxy,
    bodyLimit: 1024 * 1024,
  });
  app.addHook('onClose', () => deps.deviceLogins.close());
  await app.register(cookie);
  await app.register(formbody);
  registerAuth(app, {
    rt,
    sessions: new SessionStore(rt.redis, rt.key),
    limiter: new LoginRateLimiter(rt.redis, rt.key, () => rt.config.dashboard.loginLimits),
  });
  registerAssets(app);
  registerProbes(app, rt, { gated: true });
  registerPages(app, pages, deps);
  registerApiRoutes(
    app,
    pages.flatMap((p) => p.routes),
    deps,
  );
  await registerBullBoard(app, rt);
  return app;
}

/** Starts `app` on `host:port`; returns its `http://host:port` (the port bound, for port 0). */
async function listen(app: FastifyInstance, host: string, port: number): Promise<string> {
  await app.listen({ host, port });
  const addr = app.server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  return `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
}

/**
 * Builds and starts listening, with the `metrics.port` listener when configured; logs where,
 * and warns when nobody can log in yet.
 */
export async function startDashboard(rt: Runtime, opts: DashboardOptions = {}): Promise<DashboardServer> {
  const app = await buildDashboard(rt, opts);
  const url = await listen(app, opts.bind ?? rt.config.dashboard.bind, opts.port ?? rt.config.dashboard.port);
  rt.log.info({ url, users: rt.config.dashboard.users.length }, 'dashboard listening');
  if (rt.config.dashboard.users.length === 0)
    rt.log.warn(
      'dashboard: no user in dashboard.users, so nobody can log in; add one with "mailjobs dashboard add-user NAME --role admin", then send SIGHUP',
    );
  const { metrics } = rt.config;
  const metricsPort = opts.metricsPort ?? metrics.port;
  let metricsApp: FastifyInstance | undefined;
  let metricsUrl: string | undefined;
  if (metricsPort !== undefined) {
    metricsApp = metricsListener(rt);
    try {
      metricsUrl = await listen(metricsApp, metrics.bind, metricsPort);
    } catch (err) {
      await app.close();
      throw err;
    }
    rt.log.info({ url: metricsUrl }, 'metrics listening');
  }
  return {
    app,
    url,
    ...(metricsUrl ? { metricsUrl } : {}),
    async close() {
      await Promise.allSettled([app.close(), metricsApp?.close()]);
    },
  };
}
