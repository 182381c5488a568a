/**
 * @module legacy-router
 * The request pipeline shared by Storage 1.1 and User API 1.0
 * (storage-1.1 §2): one clock reading per request, trailing slashes stripped,
 * routing on the percent-decoded path, 404/405 before authentication (both
 * carrying X-Weave-Timestamp), HTTP Basic for authenticated routes, query
 * parameters only for GET and DELETE (last value wins), X-Weave-Timestamp on
 * every success, and one error mapping for everything raised.
 *
 * Hono's router works on the raw path and cannot express "decoded path,
 * then 405 only if another method matches", so the 1.x route table is a plain
 * list here; the Hono app hands every 1.x path to {@link dispatchLegacy}.
 */
import type { Config } from "../config";
import type { Principal } from "../env";
import { authenticateAccount, cachedLogin } from "../auth/accounts";
import { parseBasic } from "../auth/basic";
import { crashResponse, HttpError, WeaveError, webobResponse, weaveResponse } from "../protocol/errors";
import { formatTs, nowTick } from "../lib/timestamp";
import { StorageUnavailable } from "../storage/stub";
import { unavailableResponse } from "../protocol/errors";
import { attemptFor, guardedLogin, throttledError } from "../throttle/guard";

export interface LegacyContext {
  req: Request;
  env: Env;
  ctx: ExecutionContext;
  config: Config;
  method: string;
  /** Percent-decoded path without trailing slashes. */
  path: string;
  /** Named groups of the route's pattern. */
  params: Record<string, string>;
  /** Query parameters for GET and DELETE (last value wins); empty for other methods. */
  query: Map<string, string>;
  /** The request's clock reading (ms, multiple of 10). Writes may be stamped later (monotonic). */
  serverTime: number;
  /** Set for routes with auth "basic". */
  principal: Principal | null;
  accept: string | null;
}

export interface LegacyRoute {
  method: string;
  /** Anchored pattern over the decoded path, with named groups. */
  pattern: RegExp;
  /**
   * "basic": HTTP Basic, user name must equal the `user` group (storage-1.1 §4).
   * "none": no authentication by the router (the handler may authenticate itself).
   */
  auth: "basic" | "none";
  handler: (c: LegacyContext) => Promise<Response> | Response;
}

/** Recognised API versions: `1.0`, `1`, `1.1` (the reference's unescaped dots are not reproduced). */
export const VERSION = String.raw`(?:1\.0|1|1\.1)`;
export const USER = String.raw`(?<user>[a-zA-Z0-9._-]+)`;
export const COLLECTION = String.raw`(?<collection>[a-zA-Z0-9._-]+)`;
export const ITEM_ID = String.raw`(?<id>[\\a-zA-Z0-9._?#~-]+)`;

export const TIMESTAMP_HEADER = "X-Weave-Timestamp";

function withTimestamp(res: Response, serverTime: number): Response {
  if (!res.headers.has(TIMESTAMP_HEADER)) {
    res = new Response(res.body, res);
    res.headers.set(TIMESTAMP_HEADER, formatTs(serverTime));
  }
  return res;
}

/** Decoded path with trailing slashes stripped, or null when it cannot be decoded. */
export function normalisePath(rawPath: string): string | null {
  let p: string;
  try {
    p = decodeURIComponent(rawPath);
  } catch {
    return null;
  }
  if (p !== "/") p = p.replace(/\/+$/, "") || "/";
  return p;
}

function unauthorized(accept: string | null, detail = "", bare = false, headers: Record<string, string> = {}): Response {
  return webobResponse(401, { detail, accept, headers, bareContentType: bare });
}

/** Authenticates a Basic request for `user` (storage-1.1 §4). Returns the principal or a 401 response. */
export async function basicAuth(
  req: Request,
  env: Env,
  ctx: ExecutionContext,
  user: string,
  opts: { challengeOnMissing: boolean },
): Promise<Principal | Response> {
  const accept = req.headers.get("Accept");
  const creds = parseBasic(req.headers.get("Authorization"));
  switch (creds.kind) {
    case "absent":
      return opts.challengeOnMissing
        ? unauthorized(accept, "", true, { "WWW-Authenticate": 'Basic realm="Sync"' })
        : unauthorized(accept);
    case "malformed":
      return unauthorized(accept, "Invalid token");
    case "bad-encoding":
      return unauthorized(accept);
    case "present":
      break;
  }
  // URL ownership before the password check (§4 step 5).
  if (creds.user !== user) return unauthorized(accept);
  // Password guessing is throttled per (account, address), account and
  // address (src/throttle/). A password this isolate already verified
  // against the current hash needs no KDF run; that check overlaps the
  // throttle lookup but counts only if the throttle lets the attempt through.
  const result = await guardedLogin(
    env,
    attemptFor(req, creds.user),
    () => authenticateAccount(env, ctx, creds.user, creds.password),
    () => cachedLogin(env, creds.user, creds.password),
  );
  if ("throttled" in result) {
    const e = throttledError(result.throttled);
    return webobResponse(e.status, { detail: e.detail, accept, headers: e.headers });
  }
  if (!result.ok) return unauthorized(accept);
  return { kind: "account", userid: result.userid, username: creds.user };
}

export async function dispatchLegacy(
  routes: readonly LegacyRoute[],
  req: Request,
  env: Env,
  ctx: ExecutionContext,
  config: Config,
): Promise<Response> {
  const serverTime = nowTick();
  const url = new URL(req.url);
  const method = req.method.toUpperCase();
  const accept = req.headers.get("Accept");
  const path = normalisePath(url.pathname);

  if (path === "/__heartbeat__" && (method === "GET" || method === "HEAD")) {
    return new Response(null, {
      status: 200,
      headers: { "Content-Type": "text/plain; charset=UTF-8", [TIMESTAMP_HEADER]: formatTs(serverTime) },
    });
  }

  let match: { route: LegacyRoute; groups: Record<string, string> } | null = null;
  let pathMatched = false;
  if (path !== null) {
    for (const route of routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (route.method === method) {
        match = { route, groups: { ...(m.groups ?? {}) } };
        break;
      }
    }
  }
  if (!match) {
    const res = pathMatched
      ? webobResponse(405, { accept, method })
      : webobResponse(404, { accept, method });
    res.headers.set(TIMESTAMP_HEADER, formatTs(serverTime));
    return res;
  }

  try {
    let principal: Principal | null = null;
    if (match.route.auth === "basic") {
      const r = await basicAuth(req, env, ctx, match.groups.user ?? "", { challengeOnMissing: true });
      if (r instanceof Response) return r;
      principal = r;
    }
    const query = new Map<string, string>();
    if (method === "GET" || method === "DELETE") {
      for (const [k, v] of url.searchParams) query.set(k, v);
    }
    const res = await match.route.handler({
      req,
      env,
      ctx,
      config,
      method,
      path: path as string,
      params: match.groups,
      query,
      serverTime,
      principal,
      accept,
    });
    return res.status < 400 ? withTimestamp(res, serverTime) : res;
  } catch (err) {
    return renderLegacyError(err, accept, method, config);
  }
}

/** The one place where 1.x errors become responses. */
export function renderLegacyError(err: unknown, accept: string | null, method: string, config: Config): Response {
  if (err instanceof WeaveError) return weaveResponse(err.code);
  if (err instanceof HttpError) return webobResponse(err.status, { detail: err.detail, accept, method, headers: err.headers });
  if (err instanceof StorageUnavailable) return unavailableResponse(err.cause ?? err, config.retryAfter);
  return crashResponse(err);
}
