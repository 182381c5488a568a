/**
 * @module index
 * The Worker: one Hono app in front of everything. In order: the setup page
 * (`/`), the tokenserver (`/1.0/sync/1.5`), service endpoints, Storage 1.5
 * (`/1.5/<uid>/…`, Hawk); everything else goes to the 1.x app
 * (routes/pipeline-1x.ts: its own Hono app, routing on the decoded path)
 * shared by Storage 1.1, the User API 1.0 and the account-recovery pages.
 * The Durable Object classes are re-exported for the runtime.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { ConfigError } from "./config";
import type { AppEnv } from "./env";
import { configErrorResponse, crashResponse } from "./protocol/errors";
import { legacyApp, type BasicMiddleware } from "./routes/pipeline-1x";
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

export { UserStore } from "./objects/user-store";
export { LoginThrottle } from "./objects/login-throttle";

/**
 * How requests are authenticated. Production uses the defaults (HTTP Basic
 * against the accounts, Hawk); only the benchmark's own entry module
 * (bench/entry.ts) passes others, so no switch in this module can turn
 * authentication off.
 */
export interface AppAuth {
  /** Route middleware of authenticated 1.x routes. */
  basic?: BasicMiddleware;
  /** Route middleware of authenticated Storage 1.5 routes. */
  hawk?: MiddlewareHandler<AppEnv>;
}

export function createApp(auth: AppAuth = {}): Hono<AppEnv> {
  const app1x = legacyApp([...storage11Routes, ...userRoutes, ...recoveryRoutes], { basic: auth.basic });
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
  return app;
}

const app = createApp();

export default app satisfies ExportedHandler<Env>;
