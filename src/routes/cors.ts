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

export const syncCors: MiddlewareHandler<AppEnv> = cors({
  origin: (origin) => origin || null,
  allowMethods: ["DELETE", "GET", "POST", "PUT"],
  allowHeaders: HEADERS,
  exposeHeaders: HEADERS,
  maxAge: 1728000,
});
