/**
 * @module errors
 * The one error type of every API, {@link ApiError}, and its renderers: one per
 * protocol family. Handlers and middleware throw; each app's `onError` calls
 * its family's renderer and nothing else builds an error response.
 *
 *  - 1.x (Storage 1.1, User API 1.0, account pages; storage-1.1 §14):
 *    {@link render1x}: a Weave code is 400 with a bare JSON integer, any other
 *    status a WebOb text/HTML body.
 *  - Storage 1.5 (storage-1.5 §11): `renderError15` in protocol/v1_5.ts, a
 *    bare integer or no body.
 *  - Tokenserver (tokenserver-1.0 §11): JSON `{status, errors}` in
 *    tokenserver/errors.ts.
 *
 * Anything that is not an ApiError is classified by {@link classify}: an
 * infrastructure failure of a Durable Object or D1 is a 503 with a short
 * Retry-After; everything else is a bug in this server, a 500 with a crash id
 * and one log line with the stack.
 */
import type { ConfigError } from "../config";
import { StorageUnavailable } from "../storage/stub";

/** Weave error codes (storage-1.1 §14.2, storage-1.5 §11.1). */
export const WeaveCode = {
  ILLEGAL_METHOD: 1,
  INVALID_CAPTCHA: 2,
  INVALID_USERNAME: 3,
  INVALID_WRITE: 4,
  USERID_MISMATCH: 5,
  JSON_PARSE: 6,
  MISSING_PASSWORD: 7,
  INVALID_WBO: 8,
  WEAK_PASSWORD: 9,
  INVALID_RESET_CODE: 10,
  UNSUPPORTED: 11,
  NO_EMAIL: 12,
  INVALID_COLLECTION: 13,
  OVER_QUOTA: 14,
  EMAIL_MISMATCH: 15,
  SIZE_LIMIT: 17,
} as const;
export type WeaveCode = (typeof WeaveCode)[keyof typeof WeaveCode];

/**
 * An answer the protocol prescribes, thrown from anywhere below a route: an
 * HTTP status, the Weave code of its body (null: no code), a detail text (the
 * WebOb detail of 1.x) and extra headers. Rendered only by the app's family
 * renderer. The subclasses below are named constructors, not other types.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number | null = null,
    readonly detail: string = "",
    readonly headers: Record<string, string> = {},
  ) {
    super(`${status}${code === null ? "" : ` (code ${code})`}${detail ? ` ${detail}` : ""}`);
    this.name = "ApiError";
  }
}

/** 1.x: 400 with a bare Weave code (storage-1.1 §14.2). */
export class WeaveError extends ApiError {
  constructor(code: number) {
    super(400, code);
  }
}

/** 1.x: a WebOb-style status with an optional detail (storage-1.1 §14.3). */
export class HttpError extends ApiError {
  constructor(status: number, detail = "", headers: Record<string, string> = {}) {
    super(status, null, detail, headers);
  }
}

const REASONS: Record<number, [string, string]> = {
  400: ["Bad Request", "The server could not comply with the request since it is either malformed or otherwise incorrect."],
  401: [
    "Unauthorized",
    "This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.",
  ],
  403: ["Forbidden", "Access was denied to this resource."],
  404: ["Not Found", "The resource could not be found."],
  405: ["Method Not Allowed", ""],
  412: ["Precondition Failed", "Request precondition failed."],
  413: ["Request Entity Too Large", "The body of your request was too large for this server."],
  429: ["Too Many Requests", "The client has sent too many requests in a given amount of time."],
  500: ["Internal Server Error", "The server has either erred or is incapable of performing the requested operation."],
  503: ["Service Unavailable", "The server is currently unavailable. Please try again at a later time."],
};

export function escapeHtml(s: string): string {
  // cgi.escape(s, quote=True), as WebOb renders error details.
  const map: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };
  return s.replace(/[&<>"]/g, (c) => map[c] as string);
}

/** WebOb 1.0 chooses the HTML template when Accept mentions html or is a wildcard. */
export function wantsHtml(accept: string | null | undefined): boolean {
  return !!accept && (accept.includes("html") || accept.includes("*/*"));
}

export interface WebobOptions {
  detail?: string;
  accept?: string | null;
  method?: string;
  headers?: Record<string, string>;
  /** The 401 for a missing Authorization header keeps a bare "text/plain" / "text/html". */
  bareContentType?: boolean;
}

/** A WebOb-style error response, byte-exact (storage-1.1 §14.3). */
export function webobResponse(status: number, opts: WebobOptions = {}): Response {
  const [reason, explanation] = REASONS[status] ?? ["Error", ""];
  const statusLine = `${status} ${reason}`;
  const detail = opts.detail ?? "";
  const html = wantsHtml(opts.accept);
  let body: string;
  if (status === 405) {
    const expl = `The method ${opts.method ?? "GET"} is not allowed for this resource. `;
    // WebOb's 405 body template is "EXPL<br /><br />\n${detail}" with no trailing
    // blank lines (hence the plain form's single trailing space), so the HTML
    // form has one newline after the detail, not three.
    body = html
      ? `<html>\n <head>\n  <title>${statusLine}</title>\n </head>\n <body>\n  <h1>${statusLine}</h1>\n  ${escapeHtml(expl)}<br /><br />\n\n </body>\n</html>`
      : `${statusLine}\n\n${expl}\n\n `;
  } else if (html) {
    body = `<html>\n <head>\n  <title>${statusLine}</title>\n </head>\n <body>\n  <h1>${statusLine}</h1>\n  ${explanation}<br /><br />\n${escapeHtml(detail)}\n\n\n </body>\n</html>`;
  } else {
    body = `${statusLine}\n\n${explanation}\n\n ${detail}  `;
  }
  const ctype = html
    ? opts.bareContentType
      ? "text/html"
      : "text/html; charset=UTF-8"
    : opts.bareContentType
      ? "text/plain"
      : "text/plain; charset=UTF-8";
  const headers = new Headers({ "Content-Type": ctype, ...(opts.headers ?? {}) });
  return new Response(opts.method === "HEAD" ? null : body, { status, headers });
}

/** 400 with a bare JSON integer body. */
export function weaveResponse(code: number): Response {
  return new Response(String(code), { status: 400, headers: { "Content-Type": "application/json" } });
}

function crashId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Seconds a client should wait after an infrastructure failure: short, it is usually over at once. */
export const INFRA_RETRY_AFTER_SECONDS = 10;

/**
 * What an unexpected exception is. A Durable Object or D1 that failed or is
 * unreachable (overloaded, reset, network) is an outage; an exception thrown
 * by this server's own code, here or inside a Durable Object (which arrives
 * with `remote` set, Cloudflare "Durable Objects: error handling"), is a bug.
 */
export type Classified = { kind: "outage"; cause: unknown } | { kind: "bug"; cause: unknown };

export function classify(err: unknown): Classified {
  if (err instanceof StorageUnavailable) {
    const cause = err.cause as { remote?: unknown; retryable?: unknown; overloaded?: unknown } | null;
    // Thrown by our code inside the object, and not marked as an infrastructure failure.
    if (cause && typeof cause === "object" && cause.remote === true && cause.retryable !== true && cause.overloaded !== true) {
      return { kind: "bug", cause };
    }
    return { kind: "outage", cause: err.cause ?? err };
  }
  return { kind: "bug", cause: err };
}

function stack(err: unknown): string {
  return err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
}

/** Logs a bug once, with its stack, under a fresh crash id; returns the id. */
export function logCrash(err: unknown, where: string): string {
  const id = crashId();
  console.error(`${where}: crash id ${id}: ${stack(err)}`);
  return id;
}

/** Logs an outage once; returns the crash id the 1.x body carries. */
export function logOutage(err: unknown, where: string): string {
  const id = crashId();
  console.error(`${where}: storage unavailable, crash id ${id}: ${stack(err)}`);
  return id;
}

/** 500 with a JSON string crash id (storage-1.1 §14.4); the error is logged with the id, never sent. */
export function crashResponse(err: unknown, where = "internal error"): Response {
  const id = logCrash(err, where);
  return new Response(JSON.stringify(`application error: crash id ${id}`), {
    status: 500,
    headers: { "content-type": "application/json" },
  });
}

/** 503 for storage failures: Retry-After and the doubly JSON-encoded crash id (REF-QUIRK, storage-1.1 §14.4). */
export function unavailableResponse(err: unknown, retryAfter: number): Response {
  const id = logOutage(err, "1.x");
  return new Response(JSON.stringify(JSON.stringify(`application error: crash id ${id}`)), {
    status: 503,
    headers: { "Content-Type": "application/json", "Retry-After": String(retryAfter) },
  });
}

/** The 1.x renderer: everything a Storage 1.1 / User API / account-page route throws becomes its wire error here. */
export function render1x(err: unknown, req: { accept: string | null; method: string; retryAfter: number }): Response {
  if (err instanceof ApiError) {
    if (err.code !== null) return weaveResponse(err.code);
    return webobResponse(err.status, { detail: err.detail, accept: req.accept, method: req.method, headers: err.headers });
  }
  const c = classify(err);
  if (c.kind === "outage") return unavailableResponse(c.cause, req.retryAfter);
  return crashResponse(c.cause, "1.x");
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * An invalid setting: 500 naming the setting, never its value (a value may be
 * a secret, or hold one). The log line keeps the reason with the value
 * blanked out.
 */
export function configErrorResponse(err: ConfigError, vars: object): Response {
  const raw = (vars as Record<string, unknown>)[err.setting];
  let reason = err.message;
  const value = typeof raw === "string" ? raw.trim() : raw === undefined || raw === null ? "" : String(raw);
  if (value !== "") reason = reason.replace(new RegExp(escapeRegExp(value), "gi"), "<value>");
  console.error(reason);
  return new Response(JSON.stringify(`invalid configuration: the setting ${err.setting} is not valid (see the server log)`), {
    status: 500,
    headers: { "Content-Type": "application/json" },
  });
}
