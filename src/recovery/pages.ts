/**
 * @module pages
 * The HTML of the account pages (user-1.0 §9.2, §9.3, §12): one layout, one
 * function per page. Every interpolated value goes through {@link escapeHtml}
 * (the reference inserted `key`, `username` and `error` raw: REF-BUG, XSS).
 *
 * Accessibility: every input has a <label>, errors are announced
 * (role="alert") and tied to the fields with aria-describedby, inputs carry
 * autocomplete hints, the document has a language and one <h1>.
 *
 * Styles are inlined (with a CSP nonce) rather than linked: `/media/*` must
 * answer `text/html` (REF-QUIRK, user-1.0 §11), which browsers refuse to
 * apply as a stylesheet. The same CSS is served at /media/forgot_password.css.
 */
import { escapeHtml } from "../protocol/errors";
import { TURNSTILE_ORIGIN, TURNSTILE_SCRIPT } from "./captcha";
import { FORGOT_PASSWORD_CSS } from "./media";

export interface PageContext {
  /** Per-response nonce for the inline style (and the Turnstile script). */
  nonce: string;
  csrf: string;
  /** Turnstile site key when a captcha is configured. */
  siteKey: string | null;
}

const RESET_TITLE = "Mozilla Labs / Weave / Forgot Password";
const DELETE_TITLE = "Mozilla Labs / Weave / Delete Account";

function layout(p: PageContext, title: string, heading: string, content: string): string {
  const turnstile = p.siteKey
    ? `\n<script src="${TURNSTILE_SCRIPT}" nonce="${escapeHtml(p.nonce)}" async="async" defer="defer"></script>`
    : "";
  return `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" lang="en" xml:lang="en">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>${escapeHtml(title)}</title>
<style nonce="${escapeHtml(p.nonce)}">${FORGOT_PASSWORD_CSS}</style>${turnstile}
</head>
<body>
<div id="header"><img src="/media/weave-logo.png" alt="Weave" width="160" height="48" /></div>
<div id="content" role="main">
<div class="box">
<h1>${escapeHtml(heading)}</h1>
${content}
</div>
</div>
<div id="footer">
<p>&copy; 2010 Mozilla &middot; <a href="https://www.mozilla.org/about/legal/">Legal Notices</a> &middot; <a href="https://www.mozilla.org/privacy/">Privacy Policy</a></p>
</div>
</body>
</html>
`;
}

function errorBlock(error: string | null | undefined): string {
  return error ? `<div class="error" id="form-error" role="alert">${escapeHtml(error)}</div>\n` : "";
}

function described(error: string | null | undefined): string {
  return error ? ` aria-describedby="form-error" aria-invalid="true"` : "";
}

function hidden(name: string, value: string): string {
  return `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}" />`;
}

function widget(p: PageContext): string {
  return p.siteKey ? `<div class="cf-turnstile" data-sitekey="${escapeHtml(p.siteKey)}"></div>\n` : "";
}

/** §9.2 ask page: a form with one `username` field. */
export function askPage(p: PageContext, error?: string | null): string {
  return layout(
    p,
    RESET_TITLE,
    "Password Reset",
    `<p>Enter your e-mail address or the user name of your Sync account. We will e-mail you a link to choose a new password.</p>
${errorBlock(error)}<form method="post" action="/weave-password-reset">
${hidden("csrf", p.csrf)}
<p><label for="username">E-mail address or user name</label><br />
<input type="text" id="username" name="username" autocomplete="username" required="required" spellcheck="false"${described(error)} /></p>
${widget(p)}<p><input type="submit" value="Request Reset Link" /></p>
</form>`,
  );
}

/** §9.3 key-sent page. */
export function keySentPage(p: PageContext, ttlSeconds: number): string {
  const hours = ttlSeconds % 3600 === 0 ? `${ttlSeconds / 3600} hours` : `${Math.round(ttlSeconds / 60)} minutes`;
  return layout(
    p,
    RESET_TITLE,
    "Password Reset",
    `<p role="status">A password reset link has been sent to the e-mail address of this account. Please use it within the next ${escapeHtml(hours)}.</p>`,
  );
}

/** §9.3 failure page: `Error: <detail>`. */
export function failurePage(p: PageContext, detail: string): string {
  return layout(
    p,
    RESET_TITLE,
    "Password Reset",
    `<p>We were unable to process your request.</p>
<div class="error" role="alert">Error: ${escapeHtml(detail)}</div>
<p><a href="/weave-password-reset">Try again</a></p>`,
  );
}

export interface ResetFields {
  key: string;
  username?: string | null;
  error?: string | null;
}

/** §9.2 reset page: new password, confirmation, hidden key and user name. */
export function resetPage(p: PageContext, f: ResetFields): string {
  const user = f.username ? `${hidden("username", f.username)}\n` : "";
  return layout(
    p,
    RESET_TITLE,
    "Password Reset",
    `<p>Choose a new password for your Sync account. Please do not use your passphrase (sync key) as your password.</p>
${errorBlock(f.error)}<form method="post" action="/weave-password-reset">
${hidden("csrf", p.csrf)}
${hidden("key", f.key)}
${user}<p><label for="password">New password</label><br />
<input type="password" id="password" name="password" autocomplete="new-password" required="required" minlength="8"${described(f.error)} /></p>
<p><label for="confirm">Confirm new password</label><br />
<input type="password" id="confirm" name="confirm" autocomplete="new-password" required="required" minlength="8"${described(f.error)} /></p>
<p><input type="submit" name="pchange" value="Change Password" /></p>
</form>`,
  );
}

/** §9.3 changed page. */
export function changedPage(p: PageContext): string {
  return layout(p, RESET_TITLE, "Password Reset", `<p role="status">Password successfully changed.</p>`);
}

/** §12 delete-account page. */
export function deletePage(p: PageContext): string {
  return layout(
    p,
    DELETE_TITLE,
    "Delete Account",
    `<p>This permanently deletes your Sync account and all the data stored for it on this server. This cannot be undone.</p>
<form method="post" action="/weave-delete-account">
${hidden("csrf", p.csrf)}
<p><label for="username">E-mail address or user name</label><br />
<input type="text" id="username" name="username" autocomplete="username" required="required" spellcheck="false" /></p>
<p><label for="password">Password</label><br />
<input type="password" id="password" name="password" autocomplete="current-password" required="required" /></p>
${widget(p)}<p><input type="submit" name="pchange" value="Permanently Delete My Account" /></p>
</form>`,
  );
}

/**
 * Headers for every page: no caching (pages carry tokens and keys), no
 * referrer to other origins (the reset URL holds the key), no framing, and a CSP that allows
 * only our nonce'd style, our images, posting to ourselves and, with a
 * captcha, Turnstile.
 */
export function pageHeaders(p: PageContext, setCookie: string | null): Headers {
  const ts = p.siteKey ? ` ${TURNSTILE_ORIGIN}` : "";
  const h = new Headers({
    "Content-Type": "text/html; charset=UTF-8",
    "Cache-Control": "no-store",
    // Never send the reset URL (it holds the key) to another origin. Not
    // "no-referrer": Chromium then sends `Origin: null` on our own form posts.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy":
      `default-src 'none'; style-src 'nonce-${p.nonce}'; img-src 'self'; form-action 'self'; ` +
      `frame-ancestors 'none'; base-uri 'none'` +
      (p.siteKey ? `; script-src 'nonce-${p.nonce}'${ts}; frame-src${ts}; connect-src${ts}` : ""),
  });
  if (setCookie) h.append("Set-Cookie", setCookie);
  return h;
}
