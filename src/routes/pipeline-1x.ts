/**
 * @module pipeline-1x
 * The Hono app shared by Storage 1.1, User API 1.0 and the account pages
 * (storage-1.1 §2): one clock reading per request, routing on the
 * percent-decoded path with trailing slashes stripped, 404/405 before
 * authentication (both carrying X-Weave-Timestamp), HTTP Basic as route
 * middleware, query parameters only for GET and DELETE (last value wins),
 * X-Weave-Timestamp on every success, and one renderer ({@link render1x}) for
 * everything thrown.
 *
 * Each module declares its routes as a table of {@link LegacyRoute}s (Hono
 * paths); {@link legacyApp} registers them in order, then a 405 for every
 * declared path, then the 404.
 */
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { AccessGate, hashFingerprint } from "../auth/access-gate";
import { authenticateAccount, cachedLogin, rememberedCredential, verifyCredentials } from "../auth/accounts";
import { parseBasic } from "../auth/basic";
import { ConfigError, getConfig, type Config } from "../config";
import { withGate, type AppEnv, type Principal } from "../env";
import { formatTs, nowTick } from "../lib/timestamp";
import { urlPath } from "../lib/url";
import { BodyTooLarge } from "../protocol/body";
import { render1x, webobResponse, WeaveCode, weaveResponse } from "../protocol/errors";
import type { AccessClaim } from "../storage/access";
import { AccessRefused } from "../storage/stub";
import { attemptFor, guardedLogin, PERMIT_MS, throttledError, UNKNOWN_ADDRESS } from "../throttle/guard";
import { noteRoute } from "../log";

/** What a 1.x handler sees: the request, already routed and (for "basic" routes) authenticated. */
export interface LegacyContext {
  req: Request;
  env: Env;
  ctx: ExecutionContext;
  config: Config;
  method: string;
  /** Percent-decoded path without trailing slashes. */
  path: string;
  /** The route's path parameters, from the decoded path. */
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
  /** A Hono path over the decoded path; parameters may carry patterns (`:user{[a-z]+}`). */
  path: string;
  /**
   * "basic": HTTP Basic, user name must equal the `user` parameter (storage-1.1 §4).
   * "none": no authentication by the pipeline (the handler may authenticate itself).
   */
  auth: "basic" | "none";
  /**
   * For "basic" routes whose only effect is storage operations: a password
   * this isolate already verified is checked by the user's store in the
   * request's first storage call (src/auth/access-gate.ts), so a steady-state
   * request makes one Durable Object call and no D1 query.
   */
  gated?: boolean;
  handler: (c: LegacyContext) => Promise<Response> | Response;
}

/** Recognised API versions: `1.0`, `1`, `1.1` (the reference's unescaped dots are not reproduced). */
export const VERSION = String.raw`:version{1(?:\.[01])?}`;
export const USER = String.raw`:user{[a-zA-Z0-9._-]+}`;
export const COLLECTION = String.raw`:collection{[a-zA-Z0-9._-]+}`;
export const ITEM_ID = String.raw`:id{[\\a-zA-Z0-9._?#~-]+}`;

export const TIMESTAMP_HEADER = "X-Weave-Timestamp";

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

/** A path no route can match: what an undecodable path routes as (→ 404). */
const UNROUTABLE = "/\u0000";

function routingPath(req: Request): string {
  return normalisePath(urlPath(req.url)) ?? UNROUTABLE;
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
  if ("throttled" in result) return throttledResponse(result.throttled, accept);
  if (!result.ok) return unauthorized(accept);
  return { kind: "account", userid: result.userid, username: creds.user };
}

function throttledResponse(retryAfter: number, accept: string | null): Response {
  const e = throttledError(retryAfter);
  return webobResponse(e.status, { detail: e.detail, accept, headers: e.headers });
}

/**
 * HTTP Basic for a storage route, store fast path first. A password this
 * isolate verified before is sent, as the fingerprint of the hash it
 * verified against, with the request's first storage call; the store admits
 * it or answers "stale", and only then does the full check run (D1 row,
 * login throttle, password), as {@link basicAuth} would have. Anything else
 * (absent, malformed, wrong owner, unknown password) is {@link basicAuth}.
 */
export async function gatedBasicAuth(req: Request, env: Env, ctx: ExecutionContext, user: string): Promise<Principal | Response> {
  const creds = parseBasic(req.headers.get("Authorization"));
  if (creds.kind !== "present" || creds.user !== user) return basicAuth(req, env, ctx, user, { challengeOnMissing: true });
  const remembered = await rememberedCredential(creds.user, creds.password);
  if (remembered === null) {
    const full = await fullCheck(req, env, ctx, creds.user, creds.password, null);
    if (full instanceof Response) return full;
    // Served with the grant (whose fingerprint is remembered only by a later request: see fullCheck).
    return withGate({ kind: "account", userid: full.userid, username: creds.user }, new AccessGate(full.claim, null, () => unauthorized(req.headers.get("Accept"))));
  }
  const attempt = attemptFor(req, creds.user);
  const gate = new AccessGate(
    { kind: "password", fp: remembered.fp, address: attempt.address ?? UNKNOWN_ADDRESS },
    (gen) => fullCheck(req, env, ctx, creds.user, creds.password, gen, remembered.userid),
    () => unauthorized(req.headers.get("Accept")),
  );
  return withGate({ kind: "account", userid: remembered.userid, username: creds.user }, gate);
}

/**
 * The full, throttled check of a 1.1 request (as {@link basicAuth}) and the
 * grant the store remembers for the next requests: the fingerprint of the
 * hash the password verified against, for this client address, if the store
 * is still at generation `gen`, read BEFORE the D1 row was from the store of
 * account `genOf` (null: unknown, or the account is another one now, e.g.
 * deleted and re-created under the same name: the grant then only lets this
 * request's operation run).
 */
async function fullCheck(
  req: Request,
  env: Env,
  ctx: ExecutionContext,
  username: string,
  password: string,
  gen: number | null,
  genOf: number | null = null,
): Promise<{ userid: number; claim: AccessClaim } | Response> {
  const accept = req.headers.get("Accept");
  const attempt = attemptFor(req, username);
  const result = await guardedLogin(env, attempt, () => verifyCredentials(env, ctx, username, password));
  if ("throttled" in result) return throttledResponse(result.throttled, accept);
  if (!result.ok) return unauthorized(accept);
  const settled = result.settled ?? { registered: false, lockedUntil: 0 };
  return {
    userid: result.userid,
    claim: {
      kind: "grant",
      fp: await hashFingerprint(result.hash),
      gen: gen !== null && genOf === result.userid && settled.registered ? gen : -1,
      address: attempt.address ?? UNKNOWN_ADDRESS,
      until: settled.permitUntil ?? Date.now() + PERMIT_MS,
      lockedUntil: settled.lockedUntil,
    },
  };
}

export type Env1x = { Bindings: Env; Variables: AppEnv["Variables"] & { serverTime: number } };
/** Route middleware of authenticated 1.x routes: sets `principal` or answers itself. */
export type BasicMiddleware = MiddlewareHandler<Env1x>;
type C1x = Context<Env1x>;

function routingError(c: C1x, status: 404 | 405): Response {
  const res = webobResponse(status, { accept: c.req.header("Accept") ?? null, method: c.req.method });
  res.headers.set(TIMESTAMP_HEADER, formatTs(c.get("serverTime") ?? nowTick()));
  return res;
}

/** Hono answers HEAD with the GET route; 1.x has no HEAD (405 on a known path). */
const noHead: MiddlewareHandler<Env1x> = async function noHead(c, next) {
  if (c.req.method === "HEAD") return routingError(c, 405);
  await next();
};

const basic: MiddlewareHandler<Env1x> = async function basicMiddleware(c, next) {
  const r = await basicAuth(c.req.raw, c.env, c.executionCtx as ExecutionContext, c.req.param("user") ?? "", {
    challengeOnMissing: true,
  });
  if (r instanceof Response) return r;
  c.set("principal", r);
  await next();
};

/** {@link basic} for storage routes: the store fast path ({@link gatedBasicAuth}). */
const gatedBasic: MiddlewareHandler<Env1x> = async function gatedBasicMiddleware(c, next) {
  const r = await gatedBasicAuth(c.req.raw, c.env, c.executionCtx as ExecutionContext, c.req.param("user") ?? "");
  if (r instanceof Response) return r;
  c.set("principal", r);
  await next();
  // Answered without any storage call (an error found first): the full check still decides.
  const refused = await r.gate?.settle();
  if (refused) c.res = refused;
};

function handle(route: LegacyRoute) {
  return async function legacyHandler(c: C1x): Promise<Response> {
    const method = c.req.method.toUpperCase();
    const query = new Map<string, string>();
    if (method === "GET" || method === "DELETE") {
      for (const [k, v] of new URL(c.req.url).searchParams) query.set(k, v);
    }
    return route.handler({
      req: c.req.raw,
      env: c.env,
      ctx: c.executionCtx as ExecutionContext,
      config: c.get("config"),
      method,
      path: c.req.path,
      params: c.req.param() as Record<string, string>,
      query,
      serverTime: c.get("serverTime"),
      principal: c.get("principal") ?? null,
      accept: c.req.header("Accept") ?? null,
    });
  };
}

export interface LegacyAppOptions {
  /** The configuration of a request; default: the validated settings of the Worker's env. */
  config?: (env: Env) => Config;
  /** Authentication of "basic" routes; default: HTTP Basic against the accounts (storage-1.1 §4). */
  basic?: BasicMiddleware;
}

/** The 1.x app over `routes` (tried in order). */
export function legacyApp(routes: readonly LegacyRoute[], opts: LegacyAppOptions = {}): Hono<Env1x> {
  const configOf = opts.config ?? ((env: Env) => getConfig(env));
  const app = new Hono<Env1x>({ getPath: routingPath });

  app.onError((err, c) => {
    // The Worker-wide handler names a bad setting for the operator.
    if (err instanceof ConfigError) throw err;
    if (err instanceof AccessRefused) return err.response;
    if (err instanceof BodyTooLarge) return weaveResponse(WeaveCode.SIZE_LIMIT);
    const config = c.get("config");
    return render1x(err, {
      accept: c.req.header("Accept") ?? null,
      method: c.req.method.toUpperCase(),
      retryAfter: config.retryAfter,
    });
  });

  app.use(async function clock(c, next) {
    const own = c.req.routeIndex;
    try {
      c.set("serverTime", nowTick());
      c.set("config", configOf(c.env));
      await next();
    } finally {
      // The request log names this app's route, not the Worker's catch-all that forwarded here.
      noteRoute(c, own);
    }
    if (c.res.status < 400 && !c.res.headers.has(TIMESTAMP_HEADER)) {
      const res = new Response(c.res.body, c.res);
      res.headers.set(TIMESTAMP_HEADER, formatTs(c.get("serverTime")));
      c.res = res;
    }
  });

  // storage-1.1 §16.1: the load balancer's heartbeat (GET and HEAD; other methods 404).
  app.get("/__heartbeat__", (c) => new Response(null, { status: 200, headers: { "Content-Type": "text/plain; charset=UTF-8" } }));

  const paths: string[] = [];
  for (const route of routes) {
    const chain: MiddlewareHandler<Env1x>[] = [];
    if (route.method === "GET") chain.push(noHead);
    if (route.auth === "basic") chain.push(opts.basic ?? (route.gated ? gatedBasic : basic));
    app.on(route.method, [route.path], ...chain, handle(route));
    if (!paths.includes(route.path)) paths.push(route.path);
  }
  for (const path of paths) app.all(path, (c) => routingError(c, 405));
  app.notFound((c) => routingError(c, 404));
  return app;
}
