// The OAuth2 block of a connector's or sync task's row: the grant's state, the device login
// in progress (the link to open and the code to enter, for admins), and "Sign in" /
// "Re-authorise" for admins. The server never sends a token; links are http(s) only.
import { el, errorText, isAdmin, localTime, postJson, relativeTime } from './api.js';

/** How an ended login reads (the server's reason for refused and expired says it all). */
const ENDED = {
  approved: () => 'signed in',
  refused: (l) => l.reason ?? 'the sign-in was refused at the provider',
  expired: (l) => l.reason ?? 'the code expired before the sign-in',
  failed: (l) => `sign-in failed: ${l.reason ?? ''}`,
};

function grantText(o) {
  if (o.state === 'authorised') {
    const until = o.accessExpiresAt ? `, access token valid until ${localTime(o.accessExpiresAt)}` : '';
    return `authorised ${relativeTime(o.authorisedAt)}${until}`;
  }
  if (o.state === 'reauthorise') return `re-authorise needed: ${o.reason ?? ''}`;
  return 'not authorised';
}

const webLink = (uri) =>
  /^https?:\/\//i.test(uri ?? '')
    ? el('a', { href: uri, target: '_blank', rel: 'noopener noreferrer' }, uri)
    : (uri ?? '');

function loginPart(l) {
  if (l.state === 'starting')
    return el('div', { 'data-field': 'oauth-login', 'data-state': l.state }, 'starting the sign-in…');
  if (l.state === 'waiting') {
    const wait = `waiting for the sign-in (started by ${l.startedBy}; the code expires ${relativeTime(l.expiresAt)})`;
    if (!l.userCode) return el('div', { 'data-field': 'oauth-login', 'data-state': l.state }, wait);
    return el(
      'div',
      { 'data-field': 'oauth-login', 'data-state': l.state },
      'Open ',
      webLink(l.verificationUri),
      ' and enter the code ',
      el('code', { class: 'user-code' }, l.userCode),
      el('div', { class: 'detail' }, wait),
    );
  }
  const text = (ENDED[l.state] ?? (() => l.state))(l);
  return el(
    'div',
    { 'data-field': 'oauth-login', 'data-state': l.state, class: l.state === 'approved' ? 'ok' : 'bad' },
    `${text} (${relativeTime(l.endedAt)})`,
  );
}

/**
 * The block for `o` (the row's `oauth`), or nothing for a password login. `path` is the POST
 * that starts the login; `after()` refreshes the page's listing, `say(text, bad)` the notice.
 */
export function oauthBlock(o, path, after, say) {
  if (!o) return [];
  const waiting = o.login?.state === 'waiting' || o.login?.state === 'starting';
  const signIn = async () => {
    try {
      await postJson(path);
    } catch (err) {
      say(errorText(err), true);
    }
    await after();
  };
  return el(
    'div',
    { class: 'oauth', 'data-oauth': o.state },
    el(
      'span',
      { 'data-field': 'oauth-state', class: o.state === 'authorised' ? 'ok' : 'bad' },
      `OAuth2: ${grantText(o)}`,
    ),
    isAdmin() && !waiting
      ? [
          ' ',
          el(
            'button',
            { type: 'button', class: 'oauth-login secondary', on: { click: signIn } },
            o.state === 'not-authorised' ? 'Sign in' : 'Re-authorise',
          ),
        ]
      : [],
    o.login ? loginPart(o.login) : [],
  );
}
