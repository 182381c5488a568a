/**
 * @module health
 * Unauthenticated service endpoints of a 1.5 deployment (storage-1.5 §2):
 * `__lbheartbeat__`, `__version__` and the JSON form of `__heartbeat__`
 * (the reference's `__error__`, which only logs a deliberate crash, is not
 * served: anyone could fill the logs with it). No X-Weave-Timestamp here.
 *
 * `/__heartbeat__` is shared with 1.1, whose router answers an empty 200.
 * This app answers the 1.5 JSON only when the request asks for JSON
 * (`Accept` naming application/json) and otherwise passes the request on,
 * so a 1.1 monitor keeps getting exactly what it got before.
 */
import { Hono } from "hono";
import { getConfig } from "../config";
import type { AppEnv } from "../env";
import { syncCors } from "./cors";

/**
 * What `__version__` reports. `source` names the project rather than a URL:
 * a self-hosted deployment's code may live anywhere. `commit` and `build` are
 * not known to the Worker at run time (a build step could inject them).
 */
export const VERSION_INFO = {
  source: "weave-edge",
  version: "0.1.0",
  commit: "unknown",
  build: "unknown",
} as const;

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

export const healthApp = new Hono<AppEnv>();

healthApp.use("/__*", syncCors);

healthApp.get("/__lbheartbeat__", () => json({}));

healthApp.get("/__version__", () => json(VERSION_INFO));

healthApp.get("/__heartbeat__", async (c, next) => {
  if (!(c.req.header("Accept") ?? "").toLowerCase().includes("application/json")) return next();
  const quota = getConfig(c.env).storage15.quotaBytes;
  let database = "Ok";
  try {
    await c.env.DB.prepare("SELECT 1").first();
  } catch (err) {
    console.error("__heartbeat__: database check failed:", err);
    database = "Err";
  }
  const status = database === "Ok" ? "Ok" : "Err";
  return json(
    { version: VERSION_INFO.version, quota: { enabled: quota !== null, size: quota ?? 0 }, database, status },
    status === "Ok" ? 200 : 503,
  );
});
