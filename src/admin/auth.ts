/**
 * @module admin/auth
 * Who may use the admin API: only a request carrying
 * `Authorization: Bearer <ADMIN_TOKEN>`. The API exists only while the
 * `ADMIN_TOKEN` secret is set; without it every /__admin__/ path falls
 * through to the ordinary 404. A user's HTTP Basic credentials or Hawk
 * token are never looked at here, whatever they are.
 *
 * Failures count in the login throttle (src/throttle) under an account name
 * no Sync user can have (`*admin*`: `*` is not a user-name character), per
 * client address like any login; while locked the answer is 429 with
 * Retry-After, before the token is even compared.
 */
import { sha256, timingSafeEqual, utf8 } from "../auth/encoding";
import { attemptFor, checkAttempt, reserveAttempt, settleSuccess } from "../throttle/guard";

export const ADMIN_THROTTLE_ACCOUNT = "*admin*";
/** Shorter tokens are refused as a configuration error. */
export const MIN_TOKEN_LENGTH = 16;

/** The configured admin token, or null when the admin API is off. */
export function adminToken(env: Env): string | null {
  const t = (env as unknown as Record<string, unknown>).ADMIN_TOKEN;
  return typeof t === "string" && t.trim() !== "" ? t.trim() : null;
}

function json(body: unknown, status: number, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

/** Null when the request may proceed; otherwise the refusal to send. */
export async function checkAdmin(env: Env, req: Request, token: string): Promise<Response | null> {
  if (token.length < MIN_TOKEN_LENGTH) {
    console.error(`invalid configuration: ADMIN_TOKEN must be at least ${MIN_TOKEN_LENGTH} characters`);
    return json({ error: `invalid configuration: ADMIN_TOKEN must be at least ${MIN_TOKEN_LENGTH} characters` }, 500);
  }
  const header = req.headers.get("Authorization") ?? "";
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  const unauthorized = { "WWW-Authenticate": 'Bearer realm="weave-edge admin"' };
  if (!m) {
    // No admin credentials at all (or a user's Basic / Hawk ones): refused, not counted.
    return json({ error: "admin token required (Authorization: Bearer <ADMIN_TOKEN>)" }, 401, unauthorized);
  }
  const attempt = attemptFor(req, ADMIN_THROTTLE_ACCOUNT);
  // Reserved (checked and counted in one step) before the token is compared, so parallel guesses cannot multiply the allowance.
  const ticket = await reserveAttempt(env, "login", attempt);
  if (ticket.retryAfter > 0) {
    return json({ error: "too many failed attempts; try again later" }, 429, { "Retry-After": String(ticket.retryAfter) });
  }
  // Compare digests so that neither the content nor the length leaks through timing.
  const [a, b] = await Promise.all([sha256(utf8(m[1] as string)), sha256(utf8(token))]);
  if (!timingSafeEqual(a, b)) {
    // Already counted by the reservation; say so when this failure started a lock.
    const wait = (await checkAttempt(env, "login", attempt)).retryAfter;
    if (wait > 0) return json({ error: "wrong admin token; too many failed attempts" }, 429, { "Retry-After": String(wait) });
    return json({ error: "wrong admin token" }, 401, unauthorized);
  }
  await settleSuccess(env, ticket);
  return null;
}
