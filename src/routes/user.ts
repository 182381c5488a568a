/**
 * @module user
 * User API 1.0 (user-1.0 §1, §7) on the shared 1.x pipeline: account
 * availability, creation, deletion, password and e-mail changes, node
 * assignment, password reset by e-mail and the Turnstile captcha
 * (user-1.0 §7.5, §7.7-§7.9, §10; the shared operations are in
 * src/recovery/reset.ts, the HTML pages in src/routes/recovery.ts).
 *
 * Decisions where the spec is silent or recommends (each also in a test):
 *  - REGISTRATION=secret: account creation needs `X-Weave-Secret` equal to
 *    SHARED_SECRET (constant-time). Without it the answer is the same 503 as
 *    REGISTRATION=closed (the reference's `allow_new_users = false`), at the
 *    same point of the check order (step 8, after validation), with no
 *    detail, so the response does not say which of the two modes is active.
 *  - With strict usernames off, names longer than 32 characters → Weave
 *    code 3 "invalid username", checked right after step 1 (user-1.0 §3.3
 *    recommends rejecting them; 3 is the code for an invalid user name).
 *    With strict mode on they fail the e-mail check (15), as in the reference.
 *  - Invalid request bodies never crash: non-object JSON → 6, non-string or
 *    missing e-mail → 12, non-string password → 7 (the spec's
 *    recommendations); a non-UTF-8 password body on POST password → 400
 *    webob text; a non-UTF-8 body on POST email → 12.
 *  - DELETE user erases the stored data first, then the row (see
 *    {@link deleteUser}).
 *  - Unknown query parameters are ignored everywhere.
 *  - Captcha is Cloudflare Turnstile (src/recovery/captcha.ts): the token is
 *    `captcha-response` (PUT body key, password_reset query parameter).
 *  - Reset with `X-Weave-Password-Reset` uses the code up (the spec's
 *    recommendation; the reference left it valid) and is throttled like a
 *    login; without any e-mail configured, codes cannot exist → code 10.
 */
import type { LegacyContext, LegacyRoute } from "./pipeline-1x";
import { basicAuth, USER } from "./pipeline-1x";
import type { Principal } from "../env";
import { parseBasic } from "../auth/basic";
import {
  createAccount,
  findAccount,
  deleteAccount,
  rememberPassword,
  setMail,
  setPasswordHash,
  usernameExists,
  verifyCredentials,
  type VerifiedAccount,
} from "../auth/accounts";
import { hashPassword, timingSafeEqualStrings } from "../auth/password";
import { serverUsername, validEmail, validPassword } from "../lib/usernames";
import { escapeHtml, HttpError, WeaveCode, WeaveError } from "../protocol/errors";
import { callStore, userStoreFor } from "../storage/stub";
import { captchaPasses, TURNSTILE_SCRIPT } from "../recovery/captcha";
import { resetConfigured, resetWithCode, sendResetMail } from "../recovery/reset";
import { clearResetCodes } from "../recovery/reset-codes";
import { throttledError } from "../throttle/guard";
import { BODY_LIMITS, readCapped } from "../protocol/body";

const V = String.raw`:version{1(?:\.0)?}`;
const USER_PATH = `/user/${V}/${USER}`;
const NODE_PATH = `/user/${V}/${USER}/node/weave`;
const PASSWORD_PATH = `/user/${V}/${USER}/password`;
const EMAIL_PATH = `/user/${V}/${USER}/email`;
const RESET_PATH = `/user/${V}/${USER}/password_reset`;
const CAPTCHA_PATH = `/misc/${V}/captcha_html`;

/** The reference's column width, enforced here (user-1.0 §3.3 recommendation). */
export const MAX_USERNAME_LENGTH = 32;

export const WEAK_PASSWORD_DETAIL = "Password should be at least 8 characters and not the same as your username";

const TEXT = "text/plain; charset=UTF-8";
/** REF-QUIRK (user-1.0 §2): handlers returning a bare string get WebOb's default type. */
const HTML = "text/html; charset=UTF-8";

function text(body: string, contentType: string = TEXT): Response {
  return new Response(body, { status: 200, headers: { "Content-Type": contentType } });
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The body as UTF-8 text (null when it is not), read up to the User API's cap (larger: 400 / 17). */
async function bodyText(req: Request): Promise<string | null> {
  const bytes = await readCapped(req, BODY_LIMITS.userApi);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * Re-checks the request's Basic credentials for a write (the reference
 * re-authenticates before every change) and returns the hash they verified
 * against, so the write can be a compare-and-set. The router has already
 * authenticated, so this is a cache hit; a null means a concurrent change
 * won the race.
 */
async function recheck(c: LegacyContext): Promise<Extract<VerifiedAccount, { ok: true }> | null> {
  const creds = parseBasic(c.req.headers.get("Authorization"));
  if (creds.kind !== "present") return null;
  const r = await verifyCredentials(c.env, c.ctx, creds.user, creds.password);
  return r.ok ? r : null;
}

/**
 * Erases a principal's stored collections through the UserStore Durable
 * Object. An object, not a bare function, so tests can simulate an
 * unreachable store.
 */
export const storageWiper = {
  wipe: async (env: Env, principal: Principal): Promise<void> => {
    await callStore(() => userStoreFor(env, principal).wipe());
  },
};

// --- §7.1 ------------------------------------------------------------------
async function nameTaken(c: LegacyContext): Promise<Response> {
  return text((await usernameExists(c.env, c.params.user as string)) ? "1" : "0");
}

// --- §7.2 ------------------------------------------------------------------
async function createUser(c: LegacyContext): Promise<Response> {
  const user = c.params.user as string;
  // 1. name taken
  if (await usernameExists(c.env, user)) throw new WeaveError(WeaveCode.INVALID_WRITE);
  // (decision) over-long names with strict usernames off; with strict mode on
  // they fail step 4 (code 15) like in the reference, as no hash is that long.
  if (!c.config.strictUsernames && user.length > MAX_USERNAME_LENGTH) throw new WeaveError(WeaveCode.INVALID_USERNAME);
  // 2. JSON object
  const raw = await bodyText(c.req);
  let data: unknown;
  try {
    data = raw === null ? undefined : JSON.parse(raw);
  } catch {
    data = undefined;
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) throw new WeaveError(WeaveCode.JSON_PARSE);
  const body = data as Record<string, unknown>;
  // 3. + 4. e-mail valid, and (strict) hashing to the name
  const email = body.email;
  if (typeof email !== "string" || email === "" || !validEmail(email)) throw new WeaveError(WeaveCode.NO_EMAIL);
  if (c.config.strictUsernames && (await serverUsername(email)) !== user) {
    throw new WeaveError(WeaveCode.EMAIL_MISMATCH);
  }
  // 5. + 6. password present and strong enough
  const password = body.password;
  if (typeof password !== "string" || password === "") throw new WeaveError(WeaveCode.MISSING_PASSWORD);
  if (!validPassword(user, password)) throw new WeaveError(WeaveCode.WEAK_PASSWORD);
  // 7. captcha (§7.9), skipped with the shared secret
  if (!sharedSecretPresented(c) && !(await captchaPasses(c.config, stringOrNull(body["captcha-response"]), c.req))) {
    throw new WeaveError(WeaveCode.INVALID_CAPTCHA);
  }
  // 8. registration policy, then insert
  if (!registrationAllowed(c)) throw new HttpError(503);
  const hash = await hashPassword(password, c.config.pbkdf2Iterations);
  const userid = await createAccount(c.env, user, hash, email);
  if (userid === null) throw new HttpError(500, "User creation failed.");
  await rememberPassword(user, userid, hash, password);
  // 9. the name exactly as in the URL
  return text(user, HTML);
}

function stringOrNull(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

/** X-Weave-Secret equals SHARED_SECRET (constant time); false when no secret is configured. */
function sharedSecretPresented(c: LegacyContext): boolean {
  const given = c.req.headers.get("X-Weave-Secret");
  const secret = c.config.sharedSecret;
  return given !== null && secret !== null && timingSafeEqualStrings(given, secret);
}

function registrationAllowed(c: LegacyContext): boolean {
  switch (c.config.registration) {
    case "open":
      return true;
    case "closed":
      return false;
    case "secret":
      return sharedSecretPresented(c);
  }
}

// --- §7.3 ------------------------------------------------------------------
/**
 * Deletes the account and (unlike the reference, REF-BUG §7.3) its stored
 * data. The data goes first: if the Durable Object cannot be reached the
 * request fails with 503 and the account is still there, so the client can
 * simply retry; deleting the row first could strand data nobody can reach
 * or delete any more. (Ids are never reused, so even stranded data could not
 * leak into a new account.)
 */
async function deleteUser(c: LegacyContext): Promise<Response> {
  const principal = c.principal as Principal & { kind: "account" };
  const verified = await recheck(c);
  if (!verified || verified.userid !== principal.userid) return text("0");
  await storageWiper.wipe(c.env, principal);
  const deleted = await deleteAccount(c.env, principal.userid, verified.hash);
  if (deleted) await clearResetCodes(c.env, principal.userid);
  return text(deleted ? "1" : "0");
}

// --- §7.4 ------------------------------------------------------------------
async function nodeWeave(c: LegacyContext): Promise<Response> {
  if (!(await usernameExists(c.env, c.params.user as string))) throw new HttpError(404);
  const node = c.config.publicUrl ?? `${new URL(c.req.url).origin}/`;
  return text(node, HTML);
}

// --- §7.5 ------------------------------------------------------------------
async function changePassword(c: LegacyContext): Promise<Response> {
  const user = c.params.user as string;
  // 1. UTF-8 body (REF-BUG fixed: 400, not 500)
  const password = await bodyText(c.req);
  if (password === null) throw new HttpError(400, "Password is not valid UTF-8");
  // 2. strength, before any authentication
  if (!validPassword(user, password)) throw new HttpError(400, WEAK_PASSWORD_DETAIL);
  // 3. reset code (§8): unknown user 404, else the code must be valid
  const code = c.req.headers.get("X-Weave-Password-Reset");
  if (code !== null) {
    const row = await findAccount(c.env, user);
    if (!row) throw new HttpError(404);
    if (!resetConfigured(c.config)) throw new WeaveError(WeaveCode.INVALID_RESET_CODE);
    const r = await resetWithCode(c, row, code, password);
    if (r.ok) return text("success");
    if (r.reason === "throttled") throw throttledError(r.retryAfter);
    if (r.reason === "bad-code") throw new WeaveError(WeaveCode.INVALID_RESET_CODE);
    throw new HttpError(500, "Password change failed unexpectedly.");
  }
  // 4. Basic auth in the handler: a missing header gets no WWW-Authenticate
  const auth = await basicAuth(c.req, c.env, c.ctx, user, { challengeOnMissing: false });
  if (auth instanceof Response) return auth;
  const verified = await recheck(c);
  if (!verified || verified.userid !== (auth as Principal & { kind: "account" }).userid) {
    throw new HttpError(500, "Password change failed unexpectedly.");
  }
  // 5. compare-and-set against the hash that just verified
  const hash = await hashPassword(password, c.config.pbkdf2Iterations);
  if (!(await setPasswordHash(c.env, verified.userid, verified.hash, hash))) {
    throw new HttpError(500, "Password change failed unexpectedly.");
  }
  await rememberPassword(user, verified.userid, hash, password);
  // 6.
  return text("success");
}

// --- §7.6 ------------------------------------------------------------------
async function changeEmail(c: LegacyContext): Promise<Response> {
  const email = await bodyText(c.req);
  if (email === null || !validEmail(email)) throw new WeaveError(WeaveCode.NO_EMAIL);
  const verified = await recheck(c);
  if (!verified || !(await setMail(c.env, verified.userid, verified.hash, email))) {
    throw new HttpError(500, "User update failed.");
  }
  return text(email);
}

// --- §7.7 ------------------------------------------------------------------
async function passwordReset(c: LegacyContext): Promise<Response> {
  await sendResetMail(c, c.params.user as string, c.query.get("captcha-response") ?? null);
  return text("success");
}

// --- §7.8 ------------------------------------------------------------------
async function cancelReset(c: LegacyContext): Promise<Response> {
  if (!resetConfigured(c.config)) throw new HttpError(503);
  if (!(await captchaPasses(c.config, c.query.get("captcha-response") ?? null, c.req))) {
    throw new WeaveError(WeaveCode.INVALID_CAPTCHA);
  }
  await clearResetCodes(c.env, (c.principal as Principal & { kind: "account" }).userid);
  return text("success");
}

// --- §10 -------------------------------------------------------------------
/** The Turnstile widget as the HTML fragment old clients embedded; 404 without a captcha. */
function captchaHtml(c: LegacyContext): Response {
  const captcha = c.config.recovery.captcha;
  if (captcha === null) throw new HttpError(404, "No captcha configured");
  const key = escapeHtml(captcha.siteKey);
  return text(
    `<body>\n<form action="/misc/1.0/captcha_html" method="post">\n` +
      `<script src="${TURNSTILE_SCRIPT}" async defer></script>\n` +
      `<div class="cf-turnstile" data-sitekey="${key}" data-response-field-name="captcha-response"></div>\n` +
      `</form>\n</body>\n`,
    HTML,
  );
}

export const userRoutes: LegacyRoute[] = [
  { method: "GET", path: USER_PATH, auth: "none", handler: nameTaken },
  { method: "PUT", path: USER_PATH, auth: "none", handler: createUser },
  { method: "DELETE", path: USER_PATH, auth: "basic", handler: deleteUser },
  { method: "GET", path: NODE_PATH, auth: "none", handler: nodeWeave },
  { method: "POST", path: PASSWORD_PATH, auth: "none", handler: changePassword },
  { method: "POST", path: EMAIL_PATH, auth: "basic", handler: changeEmail },
  { method: "GET", path: RESET_PATH, auth: "none", handler: passwordReset },
  { method: "DELETE", path: RESET_PATH, auth: "basic", handler: cancelReset },
  { method: "GET", path: CAPTCHA_PATH, auth: "none", handler: captchaHtml },
  { method: "POST", path: CAPTCHA_PATH, auth: "none", handler: captchaHtml },
];
