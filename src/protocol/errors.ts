/**
 * @module errors
 * The wire shapes of errors for Storage 1.1 and User 1.0 (storage-1.1 §14),
 * rendered in exactly one place. Handlers throw {@link WeaveError} (a Weave
 * code, 400 with a bare JSON integer) or {@link HttpError} (a WebOb-style
 * text/HTML body); `app.onError` turns them into responses, and anything else
 * becomes the logged 500 crash-id answer.
 */

/** Weave error codes (storage-1.1 §14.2). */
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
} as const;
export type WeaveCode = (typeof WeaveCode)[keyof typeof WeaveCode];

export class WeaveError extends Error {
  constructor(readonly code: number) {
    super(`weave error ${code}`);
    this.name = "WeaveError";
  }
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string = "",
    readonly headers: Record<string, string> = {},
  ) {
    super(`${status} ${detail}`);
    this.name = "HttpError";
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

/** 500 with a JSON string crash id; the error is logged with the id, never sent. */
export function crashResponse(err: unknown): Response {
  const id = crashId();
  console.error(`crash id ${id}:`, err instanceof Error ? (err.stack ?? err.message) : err);
  return new Response(JSON.stringify(`application error: crash id ${id}`), {
    status: 500,
    headers: { "content-type": "application/json" },
  });
}

/** 503 for storage failures: Retry-After and the doubly JSON-encoded crash id (REF-QUIRK, storage-1.1 §14.4). */
export function unavailableResponse(err: unknown, retryAfter: number): Response {
  const id = crashId();
  console.error(`storage unavailable, crash id ${id}:`, err instanceof Error ? (err.stack ?? err.message) : err);
  return new Response(JSON.stringify(JSON.stringify(`application error: crash id ${id}`)), {
    status: 503,
    headers: { "Content-Type": "application/json", "Retry-After": String(retryAfter) },
  });
}
