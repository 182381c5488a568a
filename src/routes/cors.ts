/**
 * @module cors
 * CORS as syncstorage-rs configures it by default (storage-1.5 §12.9): any
 * origin (echoed), the Sync methods and headers, a 20-day preflight cache.
 * Preflights are answered here, before routing and authentication.
 */
import { cors } from "hono/cors";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";

const HEADERS = [
  "Authorization",
  "Content-Type",
  "User-Agent",
  "X-Last-Modified",
  "X-Weave-Timestamp",
  "X-Weave-Next-Offset",
  "X-Weave-Records",
  "X-Weave-Bytes",
  "X-Weave-Total-Records",
  "X-Weave-Total-Bytes",
  "X-Verify-Code",
  "TEST_IDLES",
];

const preflight: MiddlewareHandler<AppEnv> = cors({
  origin: (origin) => origin || null,
  allowMethods: ["DELETE", "GET", "POST", "PUT"],
  allowHeaders: HEADERS,
  exposeHeaders: HEADERS,
  maxAge: 1728000,
});

const EXPOSED = HEADERS.join(",");

function addCors(headers: Headers, origin: string | undefined): void {
  if (origin) headers.set("Access-Control-Allow-Origin", origin);
  headers.set("Access-Control-Expose-Headers", EXPOSED);
  headers.append("Vary", "Origin");
}

/**
 * Preflights (OPTIONS) go to hono/cors. Every other answer gets the same
 * headers hono/cors would give it (the origin echoed when sent, the exposed
 * headers, `Vary: Origin`), set once on the final response: hono/cors sets
 * them on a placeholder before the handler runs, which makes Hono copy every
 * answer into a new Response to merge them.
 */
export const syncCors: MiddlewareHandler<AppEnv> = async function syncCors(c, next) {
  if (c.req.method === "OPTIONS") return preflight(c, next);
  await next();
  const origin = c.req.header("Origin");
  try {
    addCors(c.res.headers, origin);
  } catch {
    // immutable headers (a fetched response): copy it once
    const res = new Response(c.res.body, c.res);
    addCors(res.headers, origin);
    c.res = undefined;
    c.res = res;
  }
};
