/**
 * @module log
 * Structured logs: one JSON line per request, and every other log line of a
 * request as JSON carrying the same request id. The lines go to the console,
 * which Workers Logs indexes (JSON lines become fields) and which the
 * self-hosted workerd writes to stdout.
 *
 * Request line (level `info`; `warn` for 4xx, `error` for 5xx):
 *   {"time","level","msg":"request","request_id","method","route","status",
 *    "duration_ms","bytes_in","bytes_out","uid"|"user_hash","error"?}
 * The default LOG_LEVEL is `warn`: failing requests are logged, successful
 * ones only with LOG_LEVEL=info or debug. A console line costs workerd about
 * 0.4-0.5 ms of CPU, more than the bare platform spends on a whole small
 * request (README "Logs", measured by bench/).
 * - `route` is the pattern of the route that answered (Hono's routePath, in
 *   whichever app answered), never the raw path
 *   (which holds user names and record ids); null when nothing matched.
 * - `duration_ms` is wall time by the runtime's clock. On Cloudflare that
 *   clock only moves across I/O, so CPU work does not show in it; the
 *   runtime exposes no per-request CPU time to the Worker (Workers Logs and
 *   the dashboard record it per invocation themselves).
 * - `bytes_in` / `bytes_out`: the declared Content-Length, null when the
 *   message has none (the runtime sizes most response bodies only when it
 *   sends them). With LOG_LEVEL=debug the response body is read once to count
 *   it exactly (costs a copy of every body; not for production).
 * - `uid`: the Sync 1.5 user; `user_hash`: a keyed hash of the Sync 1.1 user
 *   name (HMAC-SHA256 under SYNC_MASTER_SECRET, first 16 hex digits; a plain
 *   SHA-256 when that secret is unset), so a log reader can follow one
 *   account without learning its name.
 *
 * Never logged: headers (Authorization: Basic passwords, Bearer tokens, Hawk),
 * query strings (reset codes), bodies (passwords, payloads).
 *
 * Other modules keep calling `console.*`: inside a request those calls are
 * turned into JSON lines (`msg`, `request_id`, an Error's `stack`) and
 * filtered by LOG_LEVEL (`console.debug` = debug, `console.log`/`info` = info).
 *
 * `X-Request-Id`: a sane incoming value (1-128 of `A-Za-z0-9._:@/+=-`) is
 * kept, otherwise a random UUID; it is echoed on every answer.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { getPath } from "hono/utils/url";
import { ConfigError, logLevelOf, type LogLevel } from "./config";
import type { AppEnv, Principal } from "./env";
import { configErrorResponse } from "./protocol/errors";

export type { LogLevel } from "./config";
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
export const REQUEST_ID_HEADER = "X-Request-Id";
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

interface Scope {
  requestId: string;
  level: LogLevel;
  /** Set when an app the request was handed on to (src/index.ts's catch-all) answered it: the pattern of its route, or null. */
  innerRoute?: () => string | null;
}
const scope = new AsyncLocalStorage<Scope>();

type ConsoleMethod = "debug" | "log" | "info" | "warn" | "error";
const original: Record<ConsoleMethod, (...args: unknown[]) => void> = {
  debug: console.debug.bind(console),
  log: console.log.bind(console),
  info: console.info.bind(console),
  warn: console.warn.bind(console),
  error: console.error.bind(console),
};

/** Where finished lines go: the runtime's console (Workers Logs, workerd's stdout). */
export const logSink = {
  write(level: LogLevel, line: string): void {
    original[level === "info" ? "log" : level](line);
  },
};

function errorFields(err: Error): Record<string, string> {
  return { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
}

/**
 * `{"time":…,"level":…,"request_id":…` — the start every line shares. The
 * request id is a UUID or matched {@link SANE_REQUEST_ID}, so it needs no
 * escaping.
 */
function lineStart(level: LogLevel, requestId: string | undefined): string {
  const id = requestId === undefined ? "" : `,"request_id":"${requestId}"`;
  return `{"time":"${new Date().toISOString()}","level":"${level}"${id}`;
}

function emit(s: Scope, level: LogLevel, fields: Record<string, unknown>): void {
  if (RANK[level] < RANK[s.level]) return;
  logSink.write(level, `${lineStart(level, s.requestId)},${JSON.stringify(fields).slice(1)}`);
}

/** A log line for the current request (no-op filtering outside one: written as is). */
export function log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
  const s = scope.getStore();
  if (s) emit(s, level, { msg, ...fields });
  else logSink.write(level, `${lineStart(level, undefined)},${JSON.stringify({ msg, ...fields }).slice(1)}`);
}

// console.* inside a request → a JSON line of that request. Outside a request
// (module start-up, test runners) the console is left as it was.
const CONSOLE_LEVEL: Record<ConsoleMethod, LogLevel> = { debug: "debug", log: "info", info: "info", warn: "warn", error: "error" };
for (const method of Object.keys(CONSOLE_LEVEL) as ConsoleMethod[]) {
  console[method] = (...args: unknown[]) => {
    const s = scope.getStore();
    if (!s) return original[method](...args);
    const level = CONSOLE_LEVEL[method];
    if (RANK[level] < RANK[s.level]) return; // filtered: not even formatted
    const err = args.find((a): a is Error => a instanceof Error);
    const msg = args.map((a) => (a instanceof Error ? a.message : typeof a === "string" ? a : safeJson(a))).join(" ");
    emit(s, level, { msg, ...(err ? { error: errorFields(err) } : {}) });
  };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function contentLength(headers: Headers): number | null {
  const v = headers.get("Content-Length");
  return v !== null && /^\d+$/.test(v) ? Number(v) : null;
}

/** Reads the body once to count it, and puts an identical response back (debug level only). */
async function countBody(c: Context): Promise<number> {
  const res = c.res;
  if (res.body === null) return 0;
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    n += value.byteLength;
  }
  const bytes = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.byteLength;
  }
  replaceResponse(c, new Response(bytes, res));
  return n;
}

/** Sets c.res without Hono re-wrapping it (its setter copies the old headers over). */
function replaceResponse(c: Context, res: Response): void {
  c.res = undefined;
  c.res = res;
}

const hashKeys = new Map<string, Promise<CryptoKey>>();
const hashCache = new Map<string, string>();
const encoder = new TextEncoder();

async function userHash(name: string, secret: string | undefined): Promise<string> {
  const cacheKey = `${secret ? "k" : "p"}:${name}`;
  const hit = hashCache.get(cacheKey);
  if (hit) return hit;
  let digest: ArrayBuffer;
  if (secret) {
    let key = hashKeys.get(secret);
    if (!key) {
      key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      hashKeys.clear();
      hashKeys.set(secret, key);
    }
    digest = await crypto.subtle.sign("HMAC", await key, encoder.encode(`log-user-hash:${name}`));
  } else {
    digest = await crypto.subtle.digest("SHA-256", encoder.encode(`log-user-hash:${name}`));
  }
  const hex = Array.from(new Uint8Array(digest).subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
  if (hashCache.size >= 1000) hashCache.clear();
  hashCache.set(cacheKey, hex);
  return hex;
}

/** `/1.5/:uid{[0-9]{1,10}}/x` → `/1.5/:uid/x`: a route pattern as the log shows it, without its parameters' regular expressions. */
function routeField(pattern: string): string | null {
  let out = "";
  let depth = 0;
  for (const ch of pattern) {
    if (ch === "{") depth++;
    else if (ch === "}" && depth > 0) depth--;
    else if (depth === 0) out += ch;
  }
  return out === "" ? null : out;
}

/**
 * The route pattern that answered, from a middleware registered on every
 * path: null when no route did (the 404 handler, or the Worker's catch-all
 * that hands 1.x requests on: its app's own line names the inner route).
 */
function answeredRoute(c: Context): string | null {
  const pattern = routePath(c);
  return pattern === "" || pattern === "*" || pattern === "/*" ? null : pattern;
}

const LEGACY_USER = /^\/(?:(?:1\.0|1|1\.1)|user\/(?:1\.0|1))\/([^/]+)/;
const STORAGE15_UID = /^\/1\.5\/(\d+)(?:\/|$)/;

/** Who the request was for: the principal, else the user or uid its path names (none: `{}`). */
async function whoFields(c: Context<AppEnv>, inner: boolean): Promise<{ uid: number } | { user_hash: string } | Record<string, never>> {
  const p = c.get("principal") as Principal | undefined;
  if (p?.kind === "token") return { uid: p.uid };
  const secret = (c.env as { SYNC_MASTER_SECRET?: string }).SYNC_MASTER_SECRET;
  const hashed = async (name: string) => ({ user_hash: await userHash(name, secret) });
  if (p?.kind === "account") return hashed(p.username);
  // A route with a named user or uid parameter.
  const params = c.req.param() as Record<string, string | undefined>;
  if (params.uid !== undefined && /^\d+$/.test(params.uid)) return { uid: Number(params.uid) };
  const named = params.user ?? params.username;
  if (named !== undefined) return hashed(named);
  // The path as the Worker's app routes it (whichever app this line is written by).
  const path = getPath(c.req.raw);
  const uid = STORAGE15_UID.exec(path);
  if (uid) return { uid: Number(uid[1]) };
  // 1.x paths (the 1.x app, or the main app handing the request on to it); the tokenserver's /1.0/sync/… has its own route.
  const user = inner ? LEGACY_USER.exec(path) : null;
  if (user) {
    let name = user[1] as string;
    try {
      name = decodeURIComponent(name);
    } catch {
      // keep it encoded
    }
    return hashed(name);
  }
  return {};
}

/**
 * The request-log middleware: register it first (`app.use(requestLog())`).
 * An invalid LOG_LEVEL answers 500 naming the setting, like every setting.
 * `legacyPaths`: the app serves the 1.x paths, so a line for a path no route
 * matched names the user the path names.
 *
 * Per request it costs a header read, a clock reading and the scope of
 * `console.*` lines; a line, when the level lets it through, is one
 * JSON.stringify (a few µs, against the 0.4-0.5 ms workerd spends writing
 * it: README "Logs").
 *
 * In an app that another one handed the request to (already inside a
 * request's scope) it only notes which route answered, for the outer line.
 */
export function requestLog(opts: { legacyPaths?: boolean } = {}): MiddlewareHandler<AppEnv> {
  return async function requestLog(c, next) {
    const outer = scope.getStore();
    if (outer !== undefined) {
      try {
        await next();
      } finally {
        // Looked up only when the line is written (most successes write none).
        outer.innerRoute = () => answeredRoute(c);
      }
      return;
    }
    const started = Date.now();
    const incoming = c.req.raw.headers.get(REQUEST_ID_HEADER);
    const requestId = incoming !== null && SANE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    let badLevel: ConfigError | null = null;
    let level: LogLevel = "info";
    try {
      level = logLevelOf(c.env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      badLevel = err;
    }
    const s: Scope = { requestId, level };

    await scope.run(s, async () => {
      if (badLevel !== null) c.res = configErrorResponse(badLevel, c.env);
      else await next();

      let res = c.res;
      try {
        res.headers.set(REQUEST_ID_HEADER, requestId);
      } catch {
        res = new Response(res.body, res); // immutable headers (a fetched response)
        res.headers.set(REQUEST_ID_HEADER, requestId);
        replaceResponse(c, res);
      }

      const status = res.status;
      const lineLevel: LogLevel = status >= 500 ? "error" : status >= 400 ? "warn" : "info";
      if (RANK[lineLevel] < RANK[level]) return;
      const inner = s.innerRoute !== undefined;
      const pattern = s.innerRoute !== undefined ? s.innerRoute() : answeredRoute(c);
      let bytesOut = contentLength(res.headers);
      if (bytesOut === null && level === "debug") bytesOut = await countBody(c);
      else if (bytesOut === null && res.body === null) bytesOut = 0;
      const bytesIn = contentLength(c.req.raw.headers) ?? (c.req.raw.body === null ? 0 : null);
      const who = await whoFields(c, inner || opts.legacyPaths === true);
      emit(s, lineLevel, {
        msg: "request",
        method: c.req.method,
        route: pattern === null ? null : routeField(pattern),
        status,
        duration_ms: Date.now() - started,
        bytes_in: bytesIn,
        bytes_out: bytesOut,
        ...who,
        ...(c.error ? { error: `${c.error.name}: ${c.error.message}` } : {}),
      });
    });
    return c.res;
  };
}
