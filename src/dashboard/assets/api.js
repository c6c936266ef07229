// Shared browser helpers of the dashboard pages: JSON API calls with the CSRF token, polling,
// a small DOM builder (text only, never innerHTML) and time formatting. Plain ES module.

/** The session's CSRF token (meta tag written by the server). */
export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';
}

/** `admin` or `viewer`. */
export function userRole() {
  return document.querySelector('meta[name="user-role"]')?.getAttribute('content') ?? 'viewer';
}

export const isAdmin = () => userRole() === 'admin';

/** An API answer other than 2xx: `status` and the server's `error` text. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

/**
 * Calls `/api<path>`. Non-GET calls send JSON (`{}` when no body) and the X-CSRF-Token header.
 * A 401 (session ended) goes to the login page. Resolves with the parsed JSON answer.
 */
export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin' };
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
    headers['x-csrf-token'] = csrfToken();
    init.body = JSON.stringify(body ?? {});
  }
  const res = await fetch(`/api${path}`, init);
  if (res.status === 401) {
    window.location.assign('/login');
    throw new ApiError(401, 'login required');
  }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, data.error ?? res.statusText);
  return data;
}

/** What to show for a failed call: the server's `error` text for an API answer, else the error. */
export const errorText = (err) => (err instanceof ApiError ? err.message : String(err));

/** Writes `text` into the page's `#notice` line, marked bad when `bad`. */
export function say(text, bad = false) {
  const notice = document.querySelector('#notice');
  notice.textContent = text;
  notice.className = bad ? 'notice bad' : 'notice';
}

/**
 * How an enqueue answer reads: `queued`, `already queued`, `already running`, naming the target
 * lock's holder when the answer has it (`already running (job …, on mx1 pid 4242, lock expires in 28 s)`).
 */
export function outcomeText(outcome) {
  if (outcome.status !== 'running') return outcome.status.replace('-', ' ');
  const h = outcome.holder;
  if (!h?.host) return 'already running';
  const until = h.expiresAt ? `, lock expires ${relativeTime(h.expiresAt)}` : '';
  return `already running (job ${h.jobId}, on ${h.host} pid ${h.pid}${until})`;
}

/** GET `/api<path>?<query>`. */
export const getJson = (path, query) => api('GET', query ? `${path}?${new URLSearchParams(query)}` : path);
export const postJson = (path, body) => api('POST', path, body);
export const deleteJson = (path, body) => api('DELETE', path, body);

/**
 * Runs `task` now and then every `intervalMs` (never two at once; skipped while the tab is
 * hidden). An error goes to `onError` (default: console) and polling goes on.
 * Returns `{ now(), stop() }`: `now()` runs it at once (after a button click, say).
 */
export function poll(task, intervalMs = 3000, onError = (err) => console.error(err)) {
  let running = false;
  let stopped = false;
  const run = async () => {
    if (running || stopped) return;
    running = true;
    try {
      await task();
    } catch (err) {
      onError(err);
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => {
    if (!document.hidden) void run();
  }, intervalMs);
  void run();
  return {
    now: run,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/**
 * `el('td', { class: 'x', title: 't' }, 'text', child)`: an element with attributes and
 * children (strings become text nodes, so nothing is parsed as HTML). `on: { click: fn }` adds
 * listeners; boolean attributes are set when true.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'on') for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
    else if (value === true) node.setAttribute(name, '');
    else if (value !== false && value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** `3 min ago`, `in 12 min`, `just now` (within the second), `never`. */
export function relativeTime(ms) {
  if (!ms) return 'never';
  const diff = Math.round((Number(ms) - Date.now()) / 1000);
  const abs = Math.abs(diff);
  if (abs < 1) return 'just now';
  const text =
    abs < 60 ? `${abs} s` : abs < 7200 ? `${Math.round(abs / 60)} min` : `${Math.round(abs / 3600)} h`;
  return diff < 0 ? `${text} ago` : `in ${text}`;
}

/** Local date and time, for a title attribute. */
export const localTime = (ms) => (ms ? new Date(Number(ms)).toLocaleString() : '');

/** Viewers see admin-only buttons disabled (the server refuses them anyway). */
function disableAdminControls() {
  if (isAdmin()) return;
  for (const b of document.querySelectorAll('[data-requires-admin]')) {
    b.disabled = true;
    b.title = 'read-only user';
  }
}
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', disableAdminControls);
else disableAdminControls();
