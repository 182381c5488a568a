/**
 * @module pipeline-1x
 * The Hono app shared by Storage 1.1, User API 1.0 and the account pages
 * (storage-1.1 §2): one clock reading per request, routing on the
 * percent-decoded path with trailing slashes stripped, 404/405 before
 * authentication (both carrying X-Weave-Timestamp), HTTP Basic, query
 * parameters only for GET and DELETE (last value wins), X-Weave-Timestamp on
 * every success, and one renderer ({@link render1x}) for everything thrown.
 *
 * Each module declares its routes as a table of {@link LegacyRoute}s (Hono
 * paths); {@link legacyApp} registers them in order, then a 405 for every
 * declared path, then the 404. Each route is ONE Hono handler
 * ({@link routeHandler}) doing the per-request steps in order (clock, HEAD,
 * Basic, the route's handler, the access gate's last word, the timestamp):
 * no middleware chain per route. The Worker hands 1.x requests straight to
 * this app (src/index.ts), with its request log and D1 migration as the only
 * middleware.
 */
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { AccessGate, hashFingerprint } from "../auth/access-gate";
import { authenticateAccount, cachedLogin, rememberedCredential, verifyCredentials } from "../auth/accounts";
import { parseBasic, type BasicCredentials } from "../auth/basic";
import { ConfigError, getConfig, type Config } from "../config";
import { withGate, type AppEnv, type Principal } from "../env";
import { formatTs, nowTick } from "../lib/timestamp";
import { urlPath, urlSearch } from "../lib/url";
import { BodyTooLarge } from "../protocol/body";
import { render1x, webobResponse, WeaveCode, weaveResponse } from "../protocol/errors";
import type { AccessClaim } from "../storage/access";
import { AccessRefused } from "../storage/stub";
import { attemptFor, guardedLogin, PERMIT_MS, throttledError, UNKNOWN_ADDRESS, type Attempt } from "../throttle/guard";

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
  return basicAuthWith(parseBasic(req.headers.get("Authorization")), req, env, ctx, user, opts);
}

/** {@link basicAuth} of credentials already parsed from the request's Authorization header. */
async function basicAuthWith(
  creds: BasicCredentials,
  req: Request,
  env: Env,
  ctx: ExecutionContext,
  user: string,
  opts: { challengeOnMissing: boolean },
): Promise<Principal | Response> {
  const accept = req.headers.get("Accept");
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
  if (creds.kind !== "present" || creds.user !== user) return basicAuthWith(creds, req, env, ctx, user, { challengeOnMissing: true });
  const attempt = attemptFor(req, creds.user);
  const refusal = () => unauthorized(req.headers.get("Accept"));
  const remembered = rememberedCredential(creds.user, creds.password);
  if (remembered === null) {
    const full = await fullCheck(req, env, ctx, attempt, creds.password, null);
    if (full instanceof Response) return full;
    // Served with the grant (whose fingerprint is remembered only by a later request: see fullCheck).
    return withGate({ kind: "account", userid: full.userid, username: creds.user }, new AccessGate(full.claim, null, refusal));
  }
  const gate = new AccessGate(
    { kind: "password", fp: remembered.fp, address: attempt.address ?? UNKNOWN_ADDRESS },
    (gen) => fullCheck(req, env, ctx, attempt, creds.password, gen, remembered.userid),
    refusal,
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
  attempt: Attempt,
  password: string,
  gen: number | null,
  genOf: number | null = null,
): Promise<{ userid: number; claim: AccessClaim } | Response> {
  const accept = req.headers.get("Accept");
  const result = await guardedLogin(env, attempt, () => verifyCredentials(env, ctx, attempt.account, password));
  if ("throttled" in result) return throttledResponse(result.throttled, accept);
  if (!result.ok) return unauthorized(accept);
  const settled = result.settled ?? { registered: false, lockedUntil: 0 };
  return {
    userid: result.userid,
    claim: {
      kind: "grant",
      fp: hashFingerprint(result.hash),
      gen: gen !== null && genOf === result.userid && settled.registered ? gen : -1,
      address: attempt.address ?? UNKNOWN_ADDRESS,
      until: settled.permitUntil ?? Date.now() + PERMIT_MS,
      lockedUntil: settled.lockedUntil,
    },
  };
}

/**
 * How the routes with auth "basic" authenticate: the principal, or the answer
 * refusing the request. `gated`: the route's {@link LegacyRoute.gated}.
 */
export type BasicAuth = (req: Request, env: Env, ctx: ExecutionContext, user: string, gated: boolean) => Promise<Principal | Response>;

/** HTTP Basic against the accounts (storage-1.1 §4), the store fast path for gated routes. */
const accountsBasic: BasicAuth = (req, env, ctx, user, gated) =>
  gated ? gatedBasicAuth(req, env, ctx, user) : basicAuth(req, env, ctx, user, { challengeOnMissing: true });

export type Env1x = { Bindings: Env; Variables: AppEnv["Variables"] };
type C1x = Context<Env1x>;

function timestamped(res: Response, serverTime: number): Response {
  try {
    res.headers.set(TIMESTAMP_HEADER, formatTs(serverTime));
    return res;
  } catch {
    // Immutable headers (a response passed through from a fetch).
    const copy = new Response(res.body, res);
    copy.headers.set(TIMESTAMP_HEADER, formatTs(serverTime));
    return copy;
  }
}

function routingError(c: C1x, status: 404 | 405, serverTime = nowTick()): Response {
  const res = webobResponse(status, { accept: c.req.header("Accept") ?? null, method: c.req.method });
  res.headers.set(TIMESTAMP_HEADER, formatTs(serverTime));
  return res;
}

/** What a throw below a route answers (everything but an invalid setting, which the Worker answers). */
function renderThrown(err: unknown, c: C1x, config: Config | undefined): Response {
  if (err instanceof ConfigError) throw err;
  if (err instanceof AccessRefused) return err.response;
  if (err instanceof BodyTooLarge) return weaveResponse(WeaveCode.SIZE_LIMIT);
  return render1x(err, {
    accept: c.req.header("Accept") ?? null,
    method: c.req.method.toUpperCase(),
    retryAfter: (config ?? c.get("config")).retryAfter,
  });
}

/** Query parameters of GET and DELETE (last value wins), none for other methods. */
function queryOf(method: string, url: string): Map<string, string> {
  const query = new Map<string, string>();
  if (method === "GET" || method === "DELETE") {
    for (const [k, v] of new URLSearchParams(urlSearch(url))) query.set(k, v);
  }
  return query;
}

/**
 * The whole per-request path of one route, as one Hono handler: the clock
 * reading and the configuration, 405 for HEAD (Hono answers HEAD with the GET
 * route; 1.x has no HEAD), Basic, the route's handler (a throw rendered by
 * {@link renderThrown}), then for a request whose credentials the store was
 * to check but never saw (an error found before any storage call) the full
 * check's verdict, and X-Weave-Timestamp on a success that has none.
 */
function routeHandler(route: LegacyRoute, configOf: (env: Env) => Config, auth: BasicAuth) {
  const getRoute = route.method === "GET";
  return async function legacyRoute(c: C1x): Promise<Response> {
    const serverTime = nowTick();
    const config = configOf(c.env);
    c.set("config", config);
    if (getRoute && c.req.method === "HEAD") return routingError(c, 405, serverTime);
    const req = c.req.raw;
    const ctx = c.executionCtx as ExecutionContext;
    let principal: Principal | null = null;
    let res: Response;
    try {
      if (route.auth === "basic") {
        const r = await auth(req, c.env, ctx, c.req.param("user") ?? "", route.gated === true);
        if (r instanceof Response) return r;
        principal = r;
        c.set("principal", r);
      }
      const method = req.method.toUpperCase();
      try {
        res = await route.handler({
          req,
          env: c.env,
          ctx,
          config,
          method,
          path: c.req.path,
          params: c.req.param() as Record<string, string>,
          query: queryOf(method, req.url),
          serverTime,
          principal,
          accept: req.headers.get("Accept"),
        });
      } catch (err) {
        c.error = err as Error;
        res = renderThrown(err, c, config);
      }
      // Answered without any storage call (an error found first): the full check still decides.
      const refused = await principal?.gate?.settle();
      if (refused) return refused;
    } catch (err) {
      c.error = err as Error;
      return renderThrown(err, c, config);
    }
    return res.status < 400 && !res.headers.has(TIMESTAMP_HEADER) ? timestamped(res, serverTime) : res;
  };
}

export interface LegacyAppOptions {
  /** The configuration of a request; default: the validated settings of the Worker's env. */
  config?: (env: Env) => Config;
  /** Authentication of "basic" routes; default: HTTP Basic against the accounts (storage-1.1 §4). */
  basic?: BasicAuth;
  /**
   * Set when the Worker hands requests straight to this app (src/index.ts):
   * the Worker-wide middleware (run first, on every request) and the answer
   * to an invalid setting. Without it an invalid setting is thrown to the
   * caller.
   */
  worker?: { use: MiddlewareHandler[]; configError: (err: ConfigError, env: Env) => Response };
}

/** The 1.x app over `routes` (tried in order). */
export function legacyApp(routes: readonly LegacyRoute[], opts: LegacyAppOptions = {}): Hono<Env1x> {
  const configOf = opts.config ?? ((env: Env) => getConfig(env));
  const auth = opts.basic ?? accountsBasic;
  const worker = opts.worker;
  const app = new Hono<Env1x>({ getPath: routingPath });

  app.onError((err, c) => {
    if (err instanceof ConfigError) {
      // Named for the operator: the Worker's own answer.
      if (worker) return worker.configError(err, c.env);
      throw err;
    }
    return renderThrown(err, c, undefined);
  });

  for (const middleware of worker?.use ?? []) app.use(middleware);

  // storage-1.1 §16.1: the load balancer's heartbeat (GET and HEAD; other methods 404).
  app.get("/__heartbeat__", (c) => {
    const serverTime = nowTick();
    c.set("config", configOf(c.env));
    const res = new Response(null, { status: 200, headers: { "Content-Type": "text/plain; charset=UTF-8" } });
    return timestamped(res, serverTime);
  });

  const paths: string[] = [];
  for (const route of routes) {
    app.on(route.method, [route.path], routeHandler(route, configOf, auth));
    if (!paths.includes(route.path)) paths.push(route.path);
  }
  const refuse = (status: 404 | 405) => (c: C1x) => {
    const serverTime = nowTick();
    c.set("config", configOf(c.env));
    return routingError(c, status, serverTime);
  };
  for (const path of paths) app.all(path, refuse(405));
  app.notFound(refuse(404));
  return app;
}
