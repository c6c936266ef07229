/**
 * How the dashboard's parts fit: the server (server.ts) owns login, sessions, CSRF, roles and
 * Bull Board; each admin page is a module that renders its HTML and declares the JSON API
 * routes its script calls. The server enforces every rule below, so a page cannot forget one.
 */
import type { z } from 'zod';
import type { SharedQueueListing } from '../jobs/queue-monitor/index.js';
import type { DeviceLogins } from '../oauth/device-logins.js';
import type { Runtime } from '../runtime.js';
import type { SafeHtml } from './html.js';

/** `viewer` sees everything and triggers nothing; `admin` may trigger too. */
export type Role = 'admin' | 'viewer';

export interface SessionUser {
  readonly name: string;
  readonly role: Role;
}

/** What page renderers and API handlers get. */
export interface DashboardDeps {
  /** The running config, Redis, queues and jobs (the config follows SIGHUP reloads). */
  readonly rt: Runtime;
  /** The Queue page's listing: one `postqueue -j` at a time for all its visitors. */
  readonly queueListing: SharedQueueListing;
  /** OAuth2 device logins started from the pages, polled in this process. */
  readonly deviceLogins: DeviceLogins;
}

/**
 * One JSON API route, served under `/api` (`path: '/sync/tasks'` is `/api/sync/tasks`).
 * Every route needs a session. A route whose `role` is `admin` is refused (403) to viewers;
 * every non-GET route also needs the session's CSRF token in the `X-CSRF-Token` header.
 */
export interface ApiRoute<I extends z.ZodType = z.ZodType> {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly role: Role;
  /** Validates the query (GET) or JSON body (POST, DELETE); a failure is a 400 naming the field. */
  readonly input?: I;
  /** Path parameters (`/sync/tasks/:id`) arrive in `params`. The value is sent as JSON. */
  handle(req: ApiRequest<z.output<I>>, deps: DashboardDeps): Promise<unknown>;
}

export interface ApiRequest<T> {
  readonly input: T;
  readonly params: Record<string, string>;
  readonly user: SessionUser;
}

/** An error a handler throws to answer with this HTTP status and message (else 500). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** One admin page: a nav entry, its server-rendered body, its browser script, its API. */
export interface PageModule {
  /** URL path, e.g. `/sync`. */
  readonly path: string;
  /** Nav label and `<title>`. */
  readonly title: string;
  /** The page's main content; escape every interpolated value with `html` from html.ts. */
  render(deps: DashboardDeps, user: SessionUser): Promise<SafeHtml>;
  /** Browser scripts under `src/dashboard/assets/` (plain ES modules, no build step). */
  readonly scripts: readonly string[];
  readonly routes: readonly ApiRoute[];
}
