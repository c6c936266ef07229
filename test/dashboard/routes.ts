/**
 * Calls a page's API routes as the server does, without HTTP: finds the route by method and
 * path, validates the input with the route's own schema, and passes the session user. Session,
 * CSRF and roles are the server's (and its tests'); these tests are about what handlers do.
 */
import { dashboardDeps } from '../../src/dashboard/server.js';
import type { ApiRoute, DashboardDeps, PageModule, SessionUser } from '../../src/dashboard/types.js';
import type { Runtime } from '../../src/runtime.js';

export const admin: SessionUser = { name: 'alice', role: 'admin' };
export const viewer: SessionUser = { name: 'victor', role: 'viewer' };

/** The route of `page` for `method` and a concrete `path` (`/sync/tasks/t1/start`), with its params. */
export function routeFor(page: PageModule, method: ApiRoute['method'], path: string) {
  for (const route of page.routes) {
    if (route.method !== method) continue;
    const names: string[] = [];
    const pattern = route.path.replace(/:([a-zA-Z]+)/g, (_, name: string) => {
      names.push(name);
      return '([^/]+)';
    });
    const m = new RegExp(`^${pattern}$`).exec(path);
    if (m) {
      const params = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)]));
      return { route, params };
    }
  }
  throw new Error(`${page.path}: no route ${method} ${path}`);
}

/**
 * Calls `method path` of `page` with `input` (parsed by the route's schema) as `user`; with a
 * runtime, each call gets fresh deps, as from a server of its own.
 */
export async function call<T = unknown>(
  rtOrDeps: Runtime | DashboardDeps,
  page: PageModule,
  method: ApiRoute['method'],
  path: string,
  input: unknown = {},
  user: SessionUser = admin,
): Promise<T> {
  const { route, params } = routeFor(page, method, path);
  const parsed = route.input ? route.input.parse(input) : input;
  const deps = 'queueListing' in rtOrDeps ? rtOrDeps : dashboardDeps(rtOrDeps);
  return (await route.handle({ input: parsed, params, user }, deps)) as T;
}

/** Every route that is not a GET must be for admins only: triggering is never a viewer's. */
export function nonGetRoutesAreAdminOnly(page: PageModule): string[] {
  return page.routes
    .filter((r) => r.method !== 'GET' && r.role !== 'admin')
    .map((r) => `${r.method} ${r.path}`);
}
