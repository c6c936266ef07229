/**
 * The page frame every admin page shares: head (CSS, the page's scripts, the CSRF token in a
 * meta tag for assets/api.js), the nav built from the page list, the signed-in user, Log out.
 */
import { html, type SafeHtml } from './html.js';
import type { PageModule, SessionUser } from './types.js';

export interface FrameOptions {
  title: string;
  /** Nav entries: the admin pages in their order. */
  pages: readonly Pick<PageModule, 'path' | 'title'>[];
  current?: string;
  user?: SessionUser;
  csrf?: string;
  /** Script file names under assets/. */
  scripts?: readonly string[];
  body: SafeHtml;
}

/** `/assets/<name>` for a script or style sheet of src/dashboard/assets/. */
export function assetUrl(name: string): string {
  return `/assets/${name.replace(/^\/?assets\//, '')}`;
}

/** Attributes of an admin-only control: shown to viewers disabled (the server refuses them anyway). */
export function adminAttrs(admin: boolean): SafeHtml {
  return admin ? html`data-requires-admin` : html`data-requires-admin disabled`;
}

function nav(o: FrameOptions): SafeHtml {
  if (!o.user) return html``;
  const links = o.pages.map(
    (p) => html`<a href="${p.path}" ${p.path === o.current ? html` aria-current="page"` : ''}>${p.title}</a>`,
  );
  return html`<header class="top">
    <span class="brand">mailjobs</span>
    <nav>${links}<a href="/queues/">Bull Board</a></nav>
    <span class="who">${o.user.name} <span class="role role-${o.user.role}">${o.user.role}</span></span>
    <form method="post" action="/logout" class="logout">
      <input type="hidden" name="_csrf" value="${o.csrf ?? ''}" /><button type="submit">Log out</button>
    </form>
  </header>`;
}

/** A whole HTML document. */
export function frame(o: FrameOptions): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        ${o.csrf ? html`<meta name="csrf-token" content="${o.csrf}" />` : ''}
        ${o.user ? html`<meta name="user-role" content="${o.user.role}" />` : ''}
        <title>${o.title} · mailjobs</title>
        <link rel="icon" type="image/svg+xml" href="${assetUrl('favicon.svg')}" />
        <link rel="stylesheet" href="${assetUrl('dashboard.css')}" />
        <link rel="stylesheet" href="${assetUrl('admin-pages.css')}" />
        ${(o.scripts ?? []).map((s) => html`<script type="module" src="${assetUrl(s)}"></script>`)}
      </head>
      <body class="${o.user ? `user-${o.user.role}` : 'anonymous'}">
        ${nav(o)}
        <main id="main">${o.body}</main>
      </body>
    </html> `.toString();
}
