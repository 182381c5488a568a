/**
 * @module pages
 * The HTML of the account pages (user-1.0 §9.2, §9.3, §12) and the layout
 * they share with the setup page (`/`): one look, one function per page.
 * Built with Hono's `html` tagged template, which escapes every interpolated
 * value (the reference inserted `key`, `username` and `error` raw: REF-BUG,
 * XSS); only our own fragments are inserted as markup.
 *
 * Accessibility: every input has a <label>, errors are announced
 * (role="alert") and tied to the fields with aria-describedby, inputs carry
 * autocomplete hints, the document has a language and one <h1>.
 *
 * Styles are inlined (with a CSP nonce) rather than linked: `/media/*` must
 * answer `text/html` (REF-QUIRK, user-1.0 §11), which browsers refuse to
 * apply as a stylesheet. The same CSS is served at /media/forgot_password.css.
 *
 * The footer speaks for whoever runs this server (OPERATOR_NAME,
 * OPERATOR_CONTACT, PRIVACY_POLICY_URL), never for Mozilla.
 */
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { OperatorConfig } from "../config";
import { TURNSTILE_ORIGIN, TURNSTILE_SCRIPT } from "./captcha";
import { PAGES_CSS } from "./media";

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export interface PageContext {
  /** Per-response nonce for the inline style (and the Turnstile script). */
  nonce: string;
  csrf: string;
  /** Turnstile site key when a captcha is configured. */
  siteKey: string | null;
  operator: OperatorConfig;
}

const RESET_TITLE = "Mozilla Labs / Weave / Forgot Password";
const DELETE_TITLE = "Mozilla Labs / Weave / Delete Account";
const EXPORT_TITLE = "Download your Sync data";

/** Where a Sync 1.1 user downloads their own data (src/admin/self-export.ts). */
export const EXPORT_PATH = "/weave-export";

/** The sentence that links the account pages and the setup page to the user's own export. */
function exportLink(): Html {
  return html`<p>Sync 1.1 account: you can <a href="${EXPORT_PATH}">download all your data</a> (the encrypted records, as a file) at any time.</p>`;
}

/** Who runs this server, from the operator settings. */
function footer(o: OperatorConfig): Html {
  const who = o.name ? html`This Sync server is run by ${o.name}.` : html`This is a self-hosted Firefox Sync server; it is not run by Mozilla.`;
  const contact =
    o.contact === null
      ? null
      : html` &middot; Contact: <a href="${o.contact.kind === "email" ? `mailto:${o.contact.value}` : o.contact.value}">${o.contact.value}</a>`;
  const privacy = o.privacyPolicyUrl === null ? null : html` &middot; <a href="${o.privacyPolicyUrl}">Privacy policy</a>`;
  return html`<p>${who}${contact}${privacy}</p>`;
}

export interface LayoutOptions {
  title: string;
  heading: string;
  nonce: string;
  operator: OperatorConfig;
  /** Loads the Turnstile script when set. */
  siteKey?: string | null;
}

/** The one page layout of the setup and account pages. */
export async function layout(o: LayoutOptions, content: Html): Promise<string> {
  const turnstile = o.siteKey ? html`\n<script src="${TURNSTILE_SCRIPT}" nonce="${o.nonce}" async="async" defer="defer"></script>` : null;
  const page = await html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>${o.title}</title>
<style nonce="${o.nonce}">${PAGES_CSS}</style>${turnstile}
</head>
<body>
<header id="header"><img src="/media/weave-logo.png" alt="Weave" width="160" height="48" /></header>
<main id="content">
<div class="box">
<h1>${o.heading}</h1>
${content}
</div>
</main>
<footer id="footer">
${footer(o.operator)}
</footer>
</body>
</html>
`;
  return page.toString();
}

function accountPage(p: PageContext, title: string, heading: string, content: Html): Promise<string> {
  return layout({ title, heading, nonce: p.nonce, operator: p.operator, siteKey: p.siteKey }, content);
}

function errorBlock(error: string | null | undefined): Html | null {
  return error ? html`<div class="error" id="form-error" role="alert">${error}</div>\n` : null;
}

function described(error: string | null | undefined): Html | null {
  return error ? html` aria-describedby="form-error" aria-invalid="true"` : null;
}

function hidden(name: string, value: string): Html {
  return html`<input type="hidden" name="${name}" value="${value}" />`;
}

function widget(p: PageContext): Html | null {
  return p.siteKey ? html`<div class="cf-turnstile" data-sitekey="${p.siteKey}"></div>\n` : null;
}

/** §9.2 ask page: a form with one `username` field. */
export function askPage(p: PageContext, error?: string | null): Promise<string> {
  return accountPage(
    p,
    RESET_TITLE,
    "Password Reset",
    html`<p>Enter your e-mail address or the user name of your Sync account. We will e-mail you a link to choose a new password.</p>
${errorBlock(error)}<form method="post" action="/weave-password-reset">
${hidden("csrf", p.csrf)}
<p><label for="username">E-mail address or user name</label><br />
<input type="text" id="username" name="username" autocomplete="username" required="required" spellcheck="false"${described(error)} /></p>
${widget(p)}<p><input type="submit" value="Request Reset Link" /></p>
</form>
${exportLink()}`,
  );
}

/** §9.3 key-sent page. */
export function keySentPage(p: PageContext, ttlSeconds: number): Promise<string> {
  const hours = ttlSeconds % 3600 === 0 ? `${ttlSeconds / 3600} hours` : `${Math.round(ttlSeconds / 60)} minutes`;
  return accountPage(
    p,
    RESET_TITLE,
    "Password Reset",
    html`<p role="status">A password reset link has been sent to the e-mail address of this account. Please use it within the next ${hours}.</p>`,
  );
}

/** §9.3 failure page: `Error: <detail>`. */
export function failurePage(p: PageContext, detail: string): Promise<string> {
  return accountPage(
    p,
    RESET_TITLE,
    "Password Reset",
    html`<p>We were unable to process your request.</p>
<div class="error" role="alert">Error: ${detail}</div>
<p><a href="/weave-password-reset">Try again</a></p>`,
  );
}

export interface ResetFields {
  key: string;
  username?: string | null;
  error?: string | null;
}

/** §9.2 reset page: new password, confirmation, hidden key and user name. */
export function resetPage(p: PageContext, f: ResetFields): Promise<string> {
  return accountPage(
    p,
    RESET_TITLE,
    "Password Reset",
    html`<p>Choose a new password for your Sync account. Please do not use your passphrase (sync key) as your password.</p>
${errorBlock(f.error)}<form method="post" action="/weave-password-reset">
${hidden("csrf", p.csrf)}
${hidden("key", f.key)}
${f.username ? html`${hidden("username", f.username)}\n` : null}<p><label for="password">New password</label><br />
<input type="password" id="password" name="password" autocomplete="new-password" required="required" minlength="8"${described(f.error)} /></p>
<p><label for="confirm">Confirm new password</label><br />
<input type="password" id="confirm" name="confirm" autocomplete="new-password" required="required" minlength="8"${described(f.error)} /></p>
<p><input type="submit" name="pchange" value="Change Password" /></p>
</form>`,
  );
}

/** §9.3 changed page. */
export function changedPage(p: PageContext): Promise<string> {
  return accountPage(p, RESET_TITLE, "Password Reset", html`<p role="status">Password successfully changed.</p>`);
}

/** §12 delete-account page. */
export function deletePage(p: PageContext): Promise<string> {
  return accountPage(
    p,
    DELETE_TITLE,
    "Delete Account",
    html`<p>This permanently deletes your Sync account and all the data stored for it on this server. This cannot be undone.</p>
<form method="post" action="/weave-delete-account">
${hidden("csrf", p.csrf)}
<p><label for="username">E-mail address or user name</label><br />
<input type="text" id="username" name="username" autocomplete="username" required="required" spellcheck="false" /></p>
<p><label for="password">Password</label><br />
<input type="password" id="password" name="password" autocomplete="current-password" required="required" /></p>
${widget(p)}<p><input type="submit" name="pchange" value="Permanently Delete My Account" /></p>
</form>
<p>To keep a copy, <a href="${EXPORT_PATH}">download your data</a> before you delete the account.</p>`,
  );
}

/**
 * The page of ${EXPORT_PATH} without (or with wrong) credentials: sent with
 * the 401 that makes the browser ask for them, so a person who cancels the
 * prompt reads what the address is for, in the account pages' look.
 */
export function exportLoginPage(o: { nonce: string; operator: OperatorConfig }, wrong: boolean): Promise<string> {
  return layout(
    { title: EXPORT_TITLE, heading: "Download your data", nonce: o.nonce, operator: o.operator },
    html`<p>This address downloads every record of your Sync 1.1 account on this server as one file (the encrypted records as your Sync client stored them, with their collections and times; the format is described in the server's <code>docs/export-format.md</code>).</p>
${wrong ? html`<div class="error" role="alert">The user name (or e-mail address) and password did not match an account.</div>
` : null}<p>Your browser asks for your Sync user name (or e-mail address) and password; the download starts once they match. <a href="${EXPORT_PATH}">Try again</a>.</p>
<p>Firefox accounts (Sync 1.5) sign in through Mozilla and are given short-lived keys only Firefox holds, so there is nothing to type here: ask whoever runs this server for an export of your data.</p>`,
  );
}

/**
 * Headers for every page: no caching (pages carry tokens and keys), no
 * referrer to other origins (the reset URL holds the key), no framing, and a
 * CSP that allows only our nonce'd style, our images, posting to ourselves
 * and, with a captcha, Turnstile.
 */
export function pageHeaders(p: { nonce: string; siteKey: string | null }, setCookie: string | null = null): Headers {
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

/** A fresh CSP nonce for one response. */
export function pageNonce(): string {
  return crypto.getRandomValues(new Uint8Array(16)).toBase64();
}
