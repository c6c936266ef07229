/**
 * A dashboard for tests: a config line with an admin and a viewer user, a server on a free
 * port of 127.0.0.1 against the test's Redis and prefix, and plain-HTTP helpers (log in,
 * call the API with the session's CSRF token) for assertions on what the server answers.
 */
import { registry } from '../../src/jobs/registry.js';
import { hashPassword } from '../../src/dashboard/password.js';
import { startDashboard, type DashboardServer } from '../../src/dashboard/server.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import type { AnyJob } from '../../src/jobs/types.js';
import { silentLog } from './runtime.js';

export interface Credentials {
  name: string;
  password: string;
}

export const ADMIN: Credentials = { name: 'admin', password: 'admin password 1' };
export const VIEWER: Credentials = { name: 'viewer', password: 'viewer password 1' };

/** Cheap scrypt cost for tests; the format is the same. */
const TEST_COST = { N: 1024, r: 8, p: 1 };

/**
 * The `dashboard:` config as one YAML line (so `writeConfig`/`writeWorldConfig`'s `extra`
 * takes it), with ADMIN and VIEWER; `more` goes inside the mapping, e.g. `loginLimits: {...}`.
 */
export async function dashboardConfigLine(more = ''): Promise<string> {
  const [a, v] = await Promise.all([
    hashPassword(ADMIN.password, TEST_COST),
    hashPassword(VIEWER.password, TEST_COST),
  ]);
  const users = `users: [{ name: ${ADMIN.name}, role: admin, passwordHash: "${a}" }, { name: ${VIEWER.name}, role: viewer, passwordHash: "${v}" }]`;
  return `dashboard: { ${users}${more ? `, ${more}` : ''} }`;
}

export interface TestDashboard {
  rt: Runtime;
  server: DashboardServer;
  url: string;
  close(): Promise<void>;
}

/** Starts the dashboard for `configFile` on 127.0.0.1, any free port. */
export async function startTestDashboard(
  configFile: string,
  jobs: readonly AnyJob[] = registry,
): Promise<TestDashboard> {
  const rt = await openRuntime({ configFlag: configFile, jobs, log: silentLog, startPrivateRedis: false });
  const server = await startDashboard(rt, { port: 0, bind: '127.0.0.1' });
  return {
    rt,
    server,
    url: server.url,
    async close() {
      await server.close();
      await rt.close();
    },
  };
}

/** A logged-in HTTP client: its session cookie and CSRF token, and a `call` for the API. */
export interface HttpSession {
  cookie: string;
  csrf: string;
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
}

function cookiesOf(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of res.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const at = pair!.indexOf('=');
    out[pair!.slice(0, at)] = pair!.slice(at + 1);
  }
  return out;
}

/** GET /login then POST it, as a browser would; returns the raw answer and the cookies so far. */
export async function postLogin(url: string, who: Credentials, opts: { omitCsrf?: boolean } = {}) {
  const page = await fetch(`${url}/login`);
  const token = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
  const jar = cookiesOf(page);
  const form = new URLSearchParams({
    user: who.name,
    password: who.password,
    ...(opts.omitCsrf ? {} : { _csrf: token }),
  });
  const res = await fetch(`${url}/login`, {
    method: 'POST',
    body: form,
    redirect: 'manual',
    headers: {
      cookie: Object.entries(jar)
        .map(([k, v]) => `${k}=${v}`)
        .join('; '),
    },
  });
  return { res, cookies: { ...jar, ...cookiesOf(res) } };
}

/** Logs in over plain HTTP; throws unless the login succeeds. */
export async function httpLogin(url: string, who: Credentials): Promise<HttpSession> {
  const { res, cookies } = await postLogin(url, who);
  if (res.status !== 303) throw new Error(`login of ${who.name} failed: HTTP ${res.status}`);
  const cookie = `mailjobs_session=${cookies.mailjobs_session}`;
  const page = await (await fetch(`${url}/connectors`, { headers: { cookie } })).text();
  const csrf = /<meta name="csrf-token" content="([^"]+)"/.exec(page)![1]!;
  return {
    cookie,
    csrf,
    call: (method, path, body, headers = {}) =>
      fetch(`${url}${path}`, {
        method,
        redirect: 'manual',
        headers: {
          cookie,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      }),
  };
}
