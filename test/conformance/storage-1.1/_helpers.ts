/**
 * Shared pieces of the Storage 1.1 conformance suite: byte-exact WebOb error
 * bodies (S11-14.3), a dispatcher with per-test config overrides,
 * and a snapshot of everything an account stores (to prove that a refused
 * request changed nothing).
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { expect } from "vitest";
import { parseConfig } from "../../../src/config";
import { legacyApp } from "../../../src/routes/pipeline-1x";
import { storage11Routes } from "../../../src/routes/storage-1.1";
import { userRoutes } from "../../../src/routes/user";
import { call, ORIGIN, type Account, type Reply } from "../../helpers/sync11";
import { readReply } from "../../helpers/reply";

export { call, register, basic, tsMs, ORIGIN, type Account, type Reply } from "../../helpers/sync11";

const EXPL: Record<number, [string, string]> = {
  400: ["400 Bad Request", "The server could not comply with the request since it is either malformed or otherwise incorrect."],
  401: [
    "401 Unauthorized",
    "This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.",
  ],
  404: ["404 Not Found", "The resource could not be found."],
  412: ["412 Precondition Failed", "Request precondition failed."],
};

/** The plain WebOb body: "STATUS\n\nEXPL\n\n DETAIL  ". */
export function plain(status: number, detail = ""): string {
  const [s, e] = EXPL[status] as [string, string];
  return `${s}\n\n${e}\n\n ${detail}  `;
}

/** The HTML WebOb body (DETAIL already HTML-safe in these tests). */
export function html(status: number, detail = ""): string {
  const [s, e] = EXPL[status] as [string, string];
  return `<html>\n <head>\n  <title>${s}</title>\n </head>\n <body>\n  <h1>${s}</h1>\n  ${e}<br /><br />\n${detail}\n\n\n </body>\n</html>`;
}

export const PLAIN = "text/plain; charset=UTF-8";
export const HTML = "text/html; charset=UTF-8";
export const JSON_CT = "application/json";
export const TS_RE = /^\d{10}\.\d\d$/;

/** A raised error: exact status, content type, body, and no X-Weave-Timestamp. */
export function expectError(r: Reply, status: number, contentType: string, body: string): void {
  expect({ status: r.status, ct: r.headers.get("Content-Type"), body: r.text }).toEqual({ status, ct: contentType, body });
  expect(r.headers.get("X-Weave-Timestamp")).toBeNull();
}

/** A Weave error code: 400, application/json, bare integer body, no X-Weave-Timestamp. */
export function expectWeave(r: Reply, code: number): void {
  expectError(r, 400, JSON_CT, String(code));
}

/** A JSON success: 200, application/json, X-Weave-Timestamp in TS form. */
export function expectOk(r: Reply, body?: string): void {
  expect(r.status, r.text).toBe(200);
  expect(r.headers.get("Content-Type")).toBe(JSON_CT);
  expect(r.headers.get("X-Weave-Timestamp")).toMatch(TS_RE);
  if (body !== undefined) expect(r.text).toBe(body);
}

/** Everything the account stores, as the API shows it (info + every collection in full, with counts). */
export async function snapshot(a: Account, extraCollections: string[] = []): Promise<unknown> {
  const info = await call(a, "GET", "/info/collections");
  const counts = await call(a, "GET", "/info/collection_counts");
  const quota = await call(a, "GET", "/info/quota");
  const names = new Set([...Object.keys(info.json as object), ...extraCollections]);
  const cols: Record<string, string> = {};
  for (const n of [...names].sort()) cols[n] = (await call(a, "GET", `/storage/${n}?full=1`)).text;
  return { info: info.text, counts: counts.text, quota: quota.text, cols };
}

/** Runs a request through the 1.x pipeline with env overrides (e.g. QUOTA_SIZE_KB). */
export async function dispatchWith(
  overrides: Record<string, string>,
  a: Account | null,
  method: string,
  path: string,
  opts: { body?: unknown; raw?: BodyInit; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const e = { ...env, ...overrides } as Env;
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (a && !("Authorization" in headers)) headers.Authorization = a.auth;
  const prefix = a ? `/1.1/${a.username}` : "";
  const body = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const ctx = createExecutionContext();
  const app = legacyApp([...storage11Routes, ...userRoutes], { config: () => parseConfig(e as unknown as Record<string, unknown>) });
  const res = await app.fetch(new Request(`${ORIGIN}${prefix}${path}`, { method, headers, body }), e, ctx);
  await waitOnExecutionContext(ctx);
  return readReply(res);
}

/** The binary body of a reply (for application/whoisi). */
export async function fetchBytes(a: Account, path: string, headers: Record<string, string>): Promise<{ res: Response; bytes: Uint8Array }> {
  const { SELF } = await import("cloudflare:test");
  const res = await SELF.fetch(`${ORIGIN}/1.1/${a.username}${path}`, { headers: { Authorization: a.auth, ...headers } });
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
}
