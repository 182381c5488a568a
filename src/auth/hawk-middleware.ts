/**
 * @module hawk-middleware
 * Hono middleware for Storage 1.5 routes: verifies Hawk (hawk.md §7) and sets
 * `c.var.principal = { kind: "token", … }`. Failure answers are the
 * reference's (storage-1.5 §3): 401 with JSON body `0` (plus
 * `WWW-Authenticate`), and 400 body `0` when the token's uid is not the path
 * uid. Mount on the user routes, e.g.
 *
 *   app.use("/1.5/:uid/*", hawkAuth());  app.use("/1.5/:uid", hawkAuth());
 *
 * Settings (HAWK_SKEW_SECONDS, HAWK_NONCE_CHECK, TRUST_FORWARDED_HOST,
 * SYNC_MASTER_SECRET[_PREVIOUS]) are read by src/config.ts and documented in README.md.
 */
import type { Context, MiddlewareHandler } from "hono";
import { withGate, type AppEnv } from "../env";
import { getConfig, hawkSettings } from "../config";
import { formatTs } from "../lib/timestamp";
import { urlPath } from "../lib/url";
import { readCapped, toArrayBuffer } from "../protocol/body";
import { verifyHawk } from "./hawk";
import { AccessGate } from "./access-gate";
import { MemoryNonceStore, NO_NONCE_CHECK, type NonceStore } from "./nonce-store";

export interface HawkAuthOptions {
  /** Replay store; default: one {@link MemoryNonceStore} per isolate (if HAWK_NONCE_CHECK). */
  nonceStore?: NonceStore;
  /** Whether this request may use an expired token. Default: `GET …/1.5/{uid}/info/collections` only. */
  allowExpired?: (c: Context<AppEnv>) => boolean;
  /** The uid in the path. Default: the `uid` route param, else the number after `/1.5/`. */
  pathUid?: (c: Context<AppEnv>) => string | undefined;
  /** Clock (seconds); tests inject it. */
  nowSeconds?: () => number;
}

const isolateNonces = new MemoryNonceStore();

const UID_IN_PATH = /\/1\.5\/(\d{1,10})(?:\/|$)/;

/** storage-1.5 §3.3: only `GET /1.5/{uid}/info/collections` accepts an expired token. */
export function isInfoCollections(c: Context<AppEnv>): boolean {
  return c.req.method === "GET" && /\/1\.5\/\d{1,10}\/info\/collections$/.test(urlPath(c.req.url));
}

function defaultPathUid(c: Context<AppEnv>): string | undefined {
  const p = c.req.param("uid" as never) as string | undefined;
  if (p !== undefined) return p;
  return UID_IN_PATH.exec(urlPath(c.req.url))?.[1];
}

function bodyZero(status: 400 | 401, headers: Record<string, string> = {}): Response {
  const now = Math.floor(Date.now() / 10) * 10;
  return new Response("0", {
    status,
    headers: { "Content-Type": "application/json", "X-Weave-Timestamp": formatTs(now), ...headers },
  });
}

export function hawkAuth(opts: HawkAuthOptions = {}): MiddlewareHandler<AppEnv> {
  return async function hawkAuthMiddleware(c, next) {
    const cfg = hawkSettings(c.env);
    const result = await verifyHawk(
      { method: c.req.method, url: c.req.url, headers: c.req.raw.headers },
      {
        secrets: cfg.masterSecrets,
        nowSeconds: opts.nowSeconds?.(),
        skewSeconds: cfg.skewSeconds,
        allowExpired: (opts.allowExpired ?? isInfoCollections)(c),
        nonceStore: opts.nonceStore ?? (cfg.nonceCheck ? isolateNonces : NO_NONCE_CHECK),
        trustForwarded: cfg.trustForwarded,
        // Only called when the client sent `hash` (no Sync client does). Read
        // with the 1.5 request cap; the handler then uses this copy.
        readBody: async () => {
          const bytes = await readCapped(c.req.raw, getConfig(c.env).storage15.maxRequestBytes);
          // Hono keeps the promise of a read body here (its type names the resolved value).
          (c.req.bodyCache as Record<string, unknown>).arrayBuffer = Promise.resolve(toArrayBuffer(bytes));
          return bytes;
        },
      },
    );
    if (!result.ok) return bodyZero(401, { "WWW-Authenticate": result.challenge });
    const pathUid = (opts.pathUid ?? defaultPathUid)(c);
    if (pathUid !== undefined && Number(pathUid) !== result.token.uid) return bodyZero(400);
    // The store refuses a disabled or deleted user's token in the request's
    // first storage call (src/storage/access.ts), answered like a bad token.
    const gate = new AccessGate({ kind: "token" }, null, () => bodyZero(401, { "WWW-Authenticate": "Hawk" }));
    c.set("principal", withGate({ kind: "token", uid: result.token.uid, fxaUid: result.token.fxa_uid ?? "", expired: result.expired }, gate));
    await next();
  };
}
