/**
 * @module index
 * The Worker: two Hono apps, and each request dispatched once to one of them.
 *  - The 1.x app (routes/pipeline-1x.ts, routing on the decoded path): Storage
 *    1.1, the User API 1.0 and the account-recovery pages. Requests whose
 *    path is a 1.x API path ({@link isLegacyPath}) go straight to it.
 *  - The main app, for everything else. In order: the operator's API, the
 *    setup page (`/`), the tokenserver (`/1.0/sync/1.5`), service endpoints,
 *    Storage 1.5 (`/1.5/<uid>/…`, Hawk); what none of them answers is handed
 *    on to the 1.x app (the account pages, `/__heartbeat__` for 1.x load
 *    balancers, and the 404 of an unknown path).
 * Both run the request log and the D1 migration first (src/log.ts,
 * src/d1-migrate.ts). The Durable Object classes are re-exported for the
 * runtime.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { ConfigError } from "./config";
import type { AppEnv } from "./env";
import { configErrorResponse, crashResponse } from "./protocol/errors";
import { legacyApp, type BasicAuth } from "./routes/pipeline-1x";
import { storage11Routes } from "./routes/storage-1.1";
import { userRoutes } from "./routes/user";
import { setupPageApp } from "./routes/setup-page";
import { tokenserverApp } from "./tokenserver/routes";
import { healthApp } from "./routes/health";
import { storage15App, storage15Routes } from "./routes/storage-1.5";
import { recoveryRoutes } from "./routes/recovery";
import { d1Migrations } from "./d1-migrate";
import { requestLog } from "./log";
import { adminApp } from "./admin/routes";
import { urlPath } from "./lib/url";

export { UserStore } from "./objects/user-store";
export { LoginThrottle } from "./objects/login-throttle";

/**
 * How requests are authenticated. Production uses the defaults (HTTP Basic
 * against the accounts, Hawk); only the benchmark's own entry module
 * (bench/entry.ts) passes others, so no switch in this module can turn
 * authentication off.
 */
export interface AppAuth {
  /** Authentication of the 1.x routes with auth "basic". */
  basic?: BasicAuth;
  /** Route middleware of authenticated Storage 1.5 routes. */
  hawk?: MiddlewareHandler<AppEnv>;
}

/**
 * Whether a request belongs to the 1.x app whatever the main app holds: its
 * path's first segment is a 1.x API version (`1`, `1.0`, `1.1`) or `user`
 * (User API), and it is not a tokenserver request (`GET /1.0/<app>/<version>`,
 * which the main app answers unless the version is `storage` or `info`). Any
 * other path, or one that percent-encoding makes unclear, goes to the main app
 * first, which hands what it does not answer on to the 1.x app.
 */
export function isLegacyPath(req: Request): boolean {
  const path = urlPath(req.url);
  const second = path.indexOf("/", 1);
  if (second < 0) return false;
  const first = path.slice(1, second);
  if (first === "1.1" || first === "1" || first === "user") return true;
  if (first !== "1.0") return false;
  if (req.method !== "GET" && req.method !== "HEAD") return true;
  // GET /1.0/<app>/<version> (exactly three segments) is the tokenserver's unless <version> is storage or info.
  const third = path.indexOf("/", second + 1);
  if (third < 0) return false;
  if (path.indexOf("/", third + 1) >= 0) return true;
  const version = path.slice(third + 1);
  return version === "storage" || version === "info";
}

/** The Worker's fetch: each request dispatched once, to the 1.x app or the main app. */
export function createApp(auth: AppAuth = {}): { fetch: (req: Request, env?: Env | {}, ctx?: ExecutionContext) => Response | Promise<Response> } {
  const app1x = legacyApp([...storage11Routes, ...userRoutes, ...recoveryRoutes], {
    basic: auth.basic,
    worker: { use: [requestLog({ legacyPaths: true }), d1Migrations()], configError: configErrorResponse },
  });
  const app = new Hono<AppEnv>();

  app.onError((err, c) => {
    if (err instanceof ConfigError) return configErrorResponse(err, c.env);
    return crashResponse(err, "worker");
  });

  // Every request: one JSON log line and X-Request-Id (src/log.ts); the D1 schema brought up to date once per isolate (src/d1-migrate.ts).
  app.use(requestLog(), d1Migrations());

  // The operator's API at /__admin__/ (only while the ADMIN_TOKEN secret is set).
  app.route("/", adminApp);

  // The setup page for whoever deployed this server.
  app.route("/", setupPageApp);

  // Tokenserver (tokenserver-1.0 §2): /1.0/sync/1.5, /token/1.0/sync/1.5.
  app.route("/", tokenserverApp);

  // Service endpoints (__lbheartbeat__, __version__, JSON __heartbeat__) and
  // Storage 1.5 at /1.5/<uid>/..., Hawk-authenticated per route (after 404/405).
  app.route("/", healthApp);
  app.route("/", auth.hawk ? storage15Routes(auth.hawk) : storage15App);

  app.all("*", (c) => app1x.fetch(c.req.raw, c.env, c.executionCtx));
  return {
    fetch: (req, env, ctx) => (isLegacyPath(req) ? app1x.fetch(req, env, ctx) : app.fetch(req, env, ctx)),
  };
}

const app = createApp();

export default app satisfies ExportedHandler<Env>;
