/**
 * The routes a monitor calls: `/healthz` (the process is up), `/readyz` (Redis answers and a
 * worker listens on every queue) and `/metrics` (Prometheus text, see metrics.ts). The probes
 * need no login and answer `ok`, `ready` or `not ready`, nothing else; why a process is not
 * ready goes to the log. `/metrics` takes a dashboard session or the bearer token of
 * `metrics.tokenFile`; `metrics.port` serves all three on a listener of its own, token only.
 */
import { setTimeout as delay } from 'node:timers/promises';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
} from 'fastify';
import type { Runtime } from '../runtime.js';
import { collectMetrics } from './metrics.js';
import { tokensEqual } from './sessions.js';

/** How long each readiness check may take before it counts as a failure. */
const READY_TIMEOUT_MS = 2000;

/** True when the request carries `Authorization: Bearer <the token of metrics.tokenFile>`. */
export function bearerAllowed(req: FastifyRequest, rt: Runtime): boolean {
  const token = rt.config.metrics.tokenFile?.reveal();
  const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
  return tokensEqual(m?.[1], token);
}

async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  const ac = new AbortController();
  try {
    return await Promise.race([
      work,
      delay(ms, undefined, { signal: ac.signal }).then(() => {
        throw new Error(`${what}: no answer in ${ms} ms`);
      }),
    ]);
  } finally {
    ac.abort();
  }
}

/** Why this process is not ready (Redis silent, a queue without workers), or undefined. */
export async function notReadyReason(rt: Runtime): Promise<string | undefined> {
  try {
    await within(READY_TIMEOUT_MS, 'redis PING', rt.redis.ping());
    const counts = await within(
      READY_TIMEOUT_MS,
      'redis CLIENT LIST',
      Promise.all([...rt.queues].map(async ([name, q]) => [name, await q.getWorkersCount()] as const)),
    );
    const idle = counts.filter(([, n]) => n === 0).map(([name]) => name);
    return idle.length > 0 ? `no worker listens on ${idle.join(', ')}` : undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Registers the three routes. `access` is the dashboard gate's (auth.ts): on the dashboard,
 * `/metrics` also takes a session; on the metrics listener, which has no gate, the token only.
 */
export function registerProbes(app: FastifyInstance, rt: Runtime, opts: { gated: boolean }): void {
  let lastReason: string | undefined;
  app.get('/healthz', { config: { access: 'public' } }, async (_req, reply) =>
    reply.header('cache-control', 'no-store').type('text/plain').send('ok\n'),
  );
  app.get('/readyz', { config: { access: 'public' } }, async (_req, reply) => {
    const reason = await notReadyReason(rt);
    if (reason !== lastReason) {
      if (reason) rt.log.warn({ reason }, 'not ready');
      else rt.log.info('ready again');
      lastReason = reason;
    }
    return reply
      .code(reason ? 503 : 200)
      .header('cache-control', 'no-store')
      .type('text/plain')
      .send(reason ? 'not ready\n' : 'ready\n');
  });
  app.get(
    '/metrics',
    {
      config: { access: 'metrics' },
      ...(opts.gated
        ? {}
        : {
            onRequest: async (req, reply) => {
              if (!bearerAllowed(req, rt))
                return reply
                  .code(401)
                  .header('www-authenticate', 'Bearer')
                  .send({ error: 'bearer token required' });
            },
          }),
    },
    async (_req, reply) => {
      const { contentType, text } = await collectMetrics(rt);
      return reply.header('cache-control', 'no-store').type(contentType).send(text);
    },
  );
}

/** The app of the `metrics.port` listener: the three routes only, `/metrics` by bearer token. */
export function metricsListener(rt: Runtime): FastifyInstance {
  const app = Fastify({
    loggerInstance: rt.log.child({ component: 'metrics' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  registerProbes(app, rt, { gated: false });
  return app;
}
