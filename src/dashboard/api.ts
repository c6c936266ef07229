/**
 * Registers the pages' JSON API routes under `/api`. The gate (auth.ts) has already checked
 * the session, the CSRF token and the role when a handler runs; here the input is validated
 * (400 naming the field), errors become JSON answers, and every answer is redacted.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { formatPath } from '../config/load.js';
import { PermanentJobError, ProtocolError } from '../core/errors.js';
import { redact } from './redact.js';
import { HttpError, type ApiRoute, type DashboardDeps } from './types.js';

function fail(reply: FastifyReply, status: number, error: string) {
  return reply.code(status).send({ error });
}

export function registerApiRoutes(
  app: FastifyInstance,
  routes: readonly ApiRoute[],
  deps: DashboardDeps,
): void {
  for (const route of routes) {
    if (!route.path.startsWith('/')) throw new Error(`dashboard API path must start with "/": ${route.path}`);
    app.route({
      method: route.method,
      url: `/api${route.path}`,
      config: { access: route.role },
      handler: async (req, reply) => {
        const raw = route.method === 'GET' ? req.query : (req.body ?? {});
        let input: unknown = raw;
        if (route.input) {
          const parsed = route.input.safeParse(raw);
          if (!parsed.success) {
            const issue = parsed.error.issues[0]!;
            return fail(reply, 400, `${formatPath(issue.path) || 'input'}: ${issue.message}`);
          }
          input = parsed.data;
        }
        try {
          const out = await route.handle(
            { input, params: req.params as Record<string, string>, user: req.dashboardUser! },
            deps,
          );
          return reply.send(redact(out ?? { ok: true }));
        } catch (err) {
          if (err instanceof HttpError) return fail(reply, err.status, err.message);
          const where = `${route.method} ${route.path}`;
          // A classified failure (postqueue not found, a server that does not answer) has a
          // reason the page can show; only a bug is an "internal error".
          if (err instanceof PermanentJobError || err instanceof ProtocolError) {
            deps.rt.log.warn(
              { route: where, reason: err.message, code: err.code },
              'dashboard API: cannot answer',
            );
            return fail(reply, 503, err.message);
          }
          deps.rt.log.error({ err, route: where }, 'dashboard API error');
          return fail(reply, 500, 'internal error (see the mailjobs log)');
        }
      },
    });
  }
}
