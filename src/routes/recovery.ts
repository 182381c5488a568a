/**
 * @module recovery
 * The account pages of server-full on the 1.x pipeline: the password-reset
 * pages (user-1.0 §9.2, §9.3), the delete-account page (§12), the static
 * files (§11) and, only with DEV_MODE = true, the development outbox reader.
 *
 * Decisions beyond the spec (each in test/recovery/pages.test.ts):
 *  - Every form POST needs the CSRF token of src/recovery/csrf.ts; without
 *    it the answer is 403 and nothing happens.
 *  - The request step accepts `username` plus the CSRF and Turnstile fields;
 *    with a captcha configured the page shows the widget and verifies it (the
 *    reference's form could not, and always failed with code 2).
 *  - The delete page also shows and verifies the captcha when configured,
 *    and both credential checks (reset key, delete password) are throttled
 *    like logins: while locked, the answer is 503 with Retry-After.
 *  - The reset form sets the submitted password (REF-BUG: the reference set
 *    the literal "password"); the delete form works (REF-BUG: it crashed).
 */
import { deleteAccount, findAccount, verifyCredentials } from "../auth/accounts";
import { toBase64 } from "../auth/password";
import type { Principal } from "../env";
import { HttpError, WeaveError } from "../protocol/errors";
import { captchaPasses } from "../recovery/captcha";
import { csrfForPage, csrfValid } from "../recovery/csrf";
import { readOutbox } from "../recovery/mail";
import { mediaFile } from "../recovery/media";
import {
  askPage,
  changedPage,
  deletePage,
  failurePage,
  keySentPage,
  pageHeaders,
  resetPage,
  type PageContext,
} from "../recovery/pages";
import { resetConfigured, resetWithCode, sendResetMail } from "../recovery/reset";
import { clearResetCodes } from "../recovery/reset-codes";
import { serverUsername, validPassword } from "../lib/usernames";
import { attemptFor, guardedLogin, ThrottledError } from "../throttle/guard";
import { StorageUnavailable } from "../storage/stub";
import type { LegacyContext, LegacyRoute } from "./pipeline-1x";
import { BODY_LIMITS, BodyTooLarge, readCapped } from "../protocol/body";
import { storageWiper, WEAK_PASSWORD_DETAIL } from "./user";

const RESET_PAGE = "/weave-password-reset";
const DELETE_PAGE = "/weave-delete-account";
const MEDIA = "/media/:file{[^/%]+}";
const DEV_OUTBOX = "/__dev__/outbox";

/** Fields the pages add to the spec's field sets. */
const CSRF_FIELD = "csrf";
const TURNSTILE_FIELD = "cf-turnstile-response";
/** Form bodies larger than this are refused while reading (they only ever hold a few short fields). */
const MAX_FORM_BYTES = BODY_LIMITS.form;

const TEXT = "text/plain; charset=UTF-8";

export const RESET_ERRORS = {
  noUsername: "Username not provided. Please check the link you used.",
  unknownUser: "We are unable to locate your account",
  noPassword: "Password not provided. Please check the link you used.",
  mismatch: "Password and confirmation do not match",
  weak: WEAK_PASSWORD_DETAIL,
  badKey: "Key does not match with username. Please request a new key.",
  updateFailed: "Password change failed unexpectedly.",
  throttled: "Too many attempts. Please wait a while and try again.",
} as const;

function nonce(): string {
  return toBase64(crypto.getRandomValues(new Uint8Array(16)));
}

async function pageContext(c: LegacyContext): Promise<{ p: PageContext; setCookie: string | null }> {
  const t = await csrfForPage(c.env, c.req);
  return { p: { nonce: nonce(), csrf: t.token, siteKey: c.config.recovery.captcha?.siteKey ?? null }, setCookie: t.setCookie };
}

async function page(
  c: LegacyContext,
  render: (p: PageContext) => string,
  status = 200,
  extra: Record<string, string> = {},
): Promise<Response> {
  const { p, setCookie } = await pageContext(c);
  const headers = pageHeaders(p, setCookie);
  for (const [k, v] of Object.entries(extra)) headers.set(k, v);
  return new Response(render(p), { status, headers });
}

function plain(body: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "Content-Type": TEXT, "Cache-Control": "no-store", ...headers } });
}

async function readForm(req: Request): Promise<URLSearchParams | null> {
  let buf: Uint8Array;
  try {
    buf = await readCapped(req, MAX_FORM_BYTES);
  } catch (err) {
    if (err instanceof BodyTooLarge) return null;
    throw err;
  }
  try {
    return new URLSearchParams(new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(buf));
  } catch {
    return null;
  }
}

const FORBIDDEN = "Your form has expired or did not come from this site. Please reload the page and try again.";

// --- §9.2 ------------------------------------------------------------------
async function resetGet(c: LegacyContext): Promise<Response> {
  if (c.query.size === 0) return page(c, (p) => askPage(p));
  if (!c.query.has("key") && !c.query.has("error")) throw new HttpError(400);
  return page(c, (p) =>
    resetPage(p, { key: c.query.get("key") ?? "", username: c.query.get("username") || null, error: c.query.get("error") }),
  );
}

// --- §9.3 ------------------------------------------------------------------
async function resetPost(c: LegacyContext): Promise<Response> {
  // 1. no reset backend (no e-mail configured)
  if (!resetConfigured(c.config)) throw new HttpError(503);
  const form = await readForm(c.req);
  if (form === null) throw new HttpError(400);
  if (!(await csrfValid(c.env, c.req, form.get(CSRF_FIELD)))) return page(c, (p) => failurePage(p, FORBIDDEN), 403);
  const fields = new Set([...form.keys()].filter((k) => k !== CSRF_FIELD && k !== TURNSTILE_FIELD));

  // 2. an e-mail address may be typed instead of the user name
  const typed = form.get("username");
  const username = typed === null || typed === "" ? null : await serverUsername(typed);

  // 3. request step: exactly {username}
  if (fields.size === 1 && fields.has("username")) {
    try {
      if (username === null) throw new WeaveError(3);
      await sendResetMail(c, username, form.get(TURNSTILE_FIELD));
    } catch (err) {
      if (err instanceof WeaveError) return page(c, (p) => failurePage(p, String(err.code)));
      // Throttled: the protocol's 503 + Retry-After, shown as the failure page.
      if (err instanceof ThrottledError) return page(c, (p) => failurePage(p, RESET_ERRORS.throttled), 503, err.headers);
      // A mail failure is a 200 failure page with the transport's (safe) message, as in the reference.
      if (err instanceof HttpError && err.status === 503) {
        return page(c, (p) => failurePage(p, err.detail || "The e-mail could not be sent."));
      }
      throw err;
    }
    return page(c, (p) => keySentPage(p, c.config.recovery.resetCodeTtl));
  }

  // 4. reset step
  const key = form.get("key");
  if (key === null) return new Response("null", { status: 400, headers: { "Content-Type": "application/json" } });
  const again = (error: string, status = 200, headers: Record<string, string> = {}) =>
    page(c, (p) => resetPage(p, { key, username: typed, error }), status, headers);
  if (typed === null || typed === "") return again(RESET_ERRORS.noUsername);
  const row = username === null ? null : await findAccount(c.env, username);
  if (!row) return again(RESET_ERRORS.unknownUser);
  const password = form.get("password");
  if (password === null || password === "") return again(RESET_ERRORS.noPassword);
  if (password !== form.get("confirm")) return again(RESET_ERRORS.mismatch);
  if (!validPassword(row.username, password)) return again(RESET_ERRORS.weak);
  const r = await resetWithCode(c, row, key, password);
  if (r.ok) return page(c, (p) => changedPage(p));
  switch (r.reason) {
    case "bad-code":
      return again(RESET_ERRORS.badKey);
    case "throttled":
      return again(RESET_ERRORS.throttled, 503, { "Retry-After": String(r.retryAfter) });
    case "update-failed":
      return again(RESET_ERRORS.updateFailed);
  }
}

// --- §12 -------------------------------------------------------------------
async function deleteGet(c: LegacyContext): Promise<Response> {
  return page(c, (p) => deletePage(p));
}

async function deletePost(c: LegacyContext): Promise<Response> {
  const form = await readForm(c.req);
  if (form === null) throw new HttpError(400);
  if (!(await csrfValid(c.env, c.req, form.get(CSRF_FIELD)))) return plain(FORBIDDEN, 403);
  // 1. both fields
  const typed = form.get("username");
  const password = form.get("password");
  if (typed === null || typed === "" || password === null || password === "") return plain("Missing data");
  if (!(await captchaPasses(c.config, form.get(TURNSTILE_FIELD), c.req))) return plain("Captcha failed");
  // 2. + 3. an e-mail may be typed; authenticate (throttled like a login)
  const username = await serverUsername(typed);
  if (username === null) return plain("Bad credentials");
  const auth = await guardedLogin(c.env, attemptFor(c.req, username), () =>
    verifyCredentials(c.env, c.ctx, username, password),
  );
  if ("throttled" in auth) {
    return plain("Too many attempts. Please try again later.", 503, { "Retry-After": String(auth.throttled) });
  }
  if (!auth.ok) return plain("Bad credentials");
  // 4. stored data first, then the row (compare-and-set on the verified hash)
  const principal: Principal = { kind: "account", userid: auth.userid, username };
  try {
    await storageWiper.wipe(c.env, principal);
    if (!(await deleteAccount(c.env, auth.userid, auth.hash))) return plain("Deletion failed.");
    await clearResetCodes(c.env, auth.userid);
  } catch (err) {
    if (!(err instanceof StorageUnavailable)) throw err;
    console.error("account deletion failed:", err.cause instanceof Error ? err.cause.message : err.cause);
    return plain("Deletion failed.");
  }
  // 5.
  return plain("Account removed.");
}

// --- §11 -------------------------------------------------------------------
function media(c: LegacyContext): Response {
  const file = mediaFile(c.params.file as string);
  if (file === null) throw new HttpError(404);
  // REF-QUIRK (user-1.0 §11): always text/html.
  return new Response(file, { status: 200, headers: { "Content-Type": "text/html; charset=UTF-8", "Cache-Control": "public, max-age=86400" } });
}

// --- development outbox ----------------------------------------------------
/** `GET /__dev__/outbox[?to=<address>]`: the dev transport's messages, newest first. 404 unless DEV_MODE. */
async function devOutbox(c: LegacyContext): Promise<Response> {
  if (!c.config.recovery.devMode) throw new HttpError(404);
  const messages = await readOutbox(c.env, c.query.get("to") ?? null);
  return new Response(JSON.stringify(messages), { headers: { "Content-Type": "application/json", "Cache-Control": "no-store" } });
}

export const recoveryRoutes: LegacyRoute[] = [
  { method: "GET", path: RESET_PAGE, auth: "none", handler: resetGet },
  { method: "POST", path: RESET_PAGE, auth: "none", handler: resetPost },
  { method: "GET", path: DELETE_PAGE, auth: "none", handler: deleteGet },
  { method: "POST", path: DELETE_PAGE, auth: "none", handler: deletePost },
  { method: "GET", path: MEDIA, auth: "none", handler: media },
  { method: "GET", path: DEV_OUTBOX, auth: "none", handler: devOutbox },
];
