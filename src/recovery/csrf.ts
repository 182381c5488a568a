/**
 * @module csrf
 * CSRF protection of the HTML forms (user-1.0 §9, §12): a signed
 * double-submit token.
 *
 *  - Token: `<nonce>.<mac>`, nonce = 16 random bytes (base64url),
 *    mac = HMAC-SHA256(server key "csrf", "csrf:" + nonce) (base64url).
 *  - GET of a page sets it in an HttpOnly, SameSite=Strict cookie (reused if
 *    the browser already has a valid one) and puts the same token in a
 *    hidden `csrf` field.
 *  - POST must carry both, equal (constant time), with a valid MAC. A site
 *    that cannot read our cookie cannot fill the field; the MAC stops a
 *    sibling (sub)domain that can write cookies from planting a token of its
 *    own choosing. A present `Origin` header must also be ours (`null` only
 *    with `Sec-Fetch-Site: same-origin`, which browsers set themselves).
 *  - Cookie name `__Host-weave_csrf` (Secure) over https, `weave_csrf` over
 *    plain http (local development).
 */
import { toBase64UrlNoPad } from "../auth/encoding";
import { timingSafeEqualStrings } from "../auth/encoding";
import { hmac, serverKey } from "./secrets";

const b64url = toBase64UrlNoPad;

function cookieName(req: Request): string {
  return new URL(req.url).protocol === "https:" ? "__Host-weave_csrf" : "weave_csrf";
}

function readCookie(req: Request, name: string): string | null {
  const header = req.headers.get("Cookie");
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

async function mac(env: Env, nonce: string): Promise<string> {
  return b64url(await hmac(await serverKey(env, "csrf"), `csrf:${nonce}`));
}

async function validToken(env: Env, token: string | null): Promise<boolean> {
  if (!token || token.length > 200) return false;
  const dot = token.indexOf(".");
  if (dot <= 0) return false;
  return timingSafeEqualStrings(token.slice(dot + 1), await mac(env, token.slice(0, dot)));
}

export interface CsrfToken {
  token: string;
  /** Set-Cookie header value, or null when the browser's cookie is reused. */
  setCookie: string | null;
}

/** The token for a form page: the browser's current one if valid, else a fresh one with its cookie. */
export async function csrfForPage(env: Env, req: Request): Promise<CsrfToken> {
  const name = cookieName(req);
  const existing = readCookie(req, name);
  if (existing && (await validToken(env, existing))) return { token: existing, setCookie: null };
  const nonce = b64url(crypto.getRandomValues(new Uint8Array(16)));
  const token = `${nonce}.${await mac(env, nonce)}`;
  const secure = name.startsWith("__Host-") ? "; Secure" : "";
  return { token, setCookie: `${name}=${token}; Path=/; HttpOnly; SameSite=Strict${secure}` };
}

/** True when a form POST carries a matching, genuine token pair from our own origin. */
export async function csrfValid(env: Env, req: Request, field: string | null): Promise<boolean> {
  const origin = req.headers.get("Origin");
  const sameSite = req.headers.get("Sec-Fetch-Site");
  if (origin !== null && origin !== new URL(req.url).origin && !(origin === "null" && sameSite === "same-origin")) return false;
  const cookie = readCookie(req, cookieName(req));
  if (!cookie || !field || !timingSafeEqualStrings(cookie, field)) return false;
  return validToken(env, cookie);
}
