/**
 * @module index
 * The Worker: one Hono app in front of everything. In order: the setup page
 * (`/`), the tokenserver (`/1.0/sync/1.5`), service endpoints, Storage 1.5
 * (`/1.5/<uid>/…`, Hawk); everything else goes to the 1.x pipeline
 * (routes/legacy-router.ts) shared by Storage 1.1, the User API 1.0 and the
 * account-recovery pages. The Durable Object classes are re-exported for the
 * runtime.
 */
import { Hono } from "hono";
import { ConfigError, getConfig } from "./config";
import type { AppEnv } from "./env";
import { crashResponse } from "./protocol/errors";
import { dispatchLegacy } from "./routes/legacy-router";
import { storage11Routes } from "./routes/storage-1.1";
import { userRoutes } from "./routes/user";
import { setupPageApp } from "./routes/setup-page";
import { tokenserverApp } from "./tokenserver/routes";
import { healthApp } from "./routes/health";
import { storage15App } from "./routes/storage-1.5";
import { recoveryRoutes } from "./routes/recovery";
import { d1Migrations } from "./d1-migrate";
import { requestLog } from "./log";
import { adminApp } from "./admin/routes";

export { UserStore } from "./objects/user-store";
export { LoginThrottle } from "./objects/login-throttle";

const legacyRoutes = [...storage11Routes, ...userRoutes, ...recoveryRoutes];

const app = new Hono<AppEnv>();

app.onError((err) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
    return new Response(JSON.stringify(err.message), { status: 500, headers: { "Content-Type": "application/json" } });
  }
  return crashResponse(err);
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
app.route("/", storage15App);

app.all("*", (c) => dispatchLegacy(legacyRoutes, c.req.raw, c.env, c.executionCtx as ExecutionContext, getConfig(c.env)));

export default app satisfies ExportedHandler<Env>;
