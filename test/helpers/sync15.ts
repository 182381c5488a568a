/**
 * A Storage 1.5 test client. The 1.5 routes are mounted on a test app with
 * a stand-in for Hawk: the `X-Test-Principal` header ("<uid>" or
 * "<uid>;expired") becomes `c.var.principal`. Test-only; production mounts
 * the real Hawk middleware (see storage15Routes).
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { Hono, type MiddlewareHandler } from "hono";
import { ConfigError } from "../../src/config";
import type { AppEnv } from "../../src/env";
import { healthApp } from "../../src/routes/health";
import { storage15Routes } from "../../src/routes/storage-1.5";
import { readReply, type Reply } from "./reply";

export const ORIGIN = "http://sync.test";
export const PRINCIPAL_HEADER = "X-Test-Principal";

const testAuth: MiddlewareHandler<AppEnv> = async function testAuth(c, next) {
  const h = c.req.header(PRINCIPAL_HEADER);
  if (!h) return new Response("0", { status: 401, headers: { "Content-Type": "application/json" } });
  const [uid, flag] = h.split(";");
  c.set("principal", { kind: "token", uid: Number(uid), fxaUid: `fxa-${uid}`, expired: flag === "expired" });
  await next();
};

export const testApp = new Hono<AppEnv>();
// As src/index.ts does: a ConfigError names the setting.
testApp.onError((err) =>
  err instanceof ConfigError
    ? new Response(JSON.stringify(err.message), { status: 500, headers: { "Content-Type": "application/json" } })
    : new Response("crash", { status: 500 }),
);
testApp.route("/", healthApp);
testApp.route("/", storage15Routes(testAuth));
// What the legacy router would answer for a plain /__heartbeat__.
testApp.all("*", () => new Response(null, { status: 200, headers: { "Content-Type": "text/plain; charset=UTF-8" } }));

export type { Reply };

export async function raw(
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: BodyInit; vars?: Record<string, string> } = {},
): Promise<Reply> {
  const ctx = createExecutionContext();
  const bindings = init.vars ? { ...env, ...init.vars } : env;
  const res = await testApp.fetch(new Request(`${ORIGIN}${path}`, { method, headers: init.headers, body: init.body }), bindings, ctx);
  await waitOnExecutionContext(ctx);
  return readReply(res);
}

let next = 1000 + Math.floor(Math.random() * 1_000_000);

export interface CallOpts {
  body?: unknown;
  raw?: BodyInit;
  headers?: Record<string, string>;
  /** Send as this principal instead of the client's own (uid mismatch tests). */
  as?: string | null;
}

export class Client15 {
  readonly uid = next++;
  /** Extra vars (e.g. SYNC15_QUOTA_BYTES) layered over the test env for this client's requests. */
  constructor(private readonly vars?: Record<string, string>) {}
  get base(): string {
    return `/1.5/${this.uid}`;
  }
  call(method: string, path: string, opts: CallOpts = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const as = opts.as === undefined ? String(this.uid) : opts.as;
    if (as !== null) headers[PRINCIPAL_HEADER] = as;
    let body = opts.raw;
    if (body === undefined && opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      if (!Object.keys(headers).some((k) => k.toLowerCase() === "content-type")) headers["Content-Type"] = "application/json";
    }
    return raw(method, `${this.base}${path}`, { headers, body, ...(this.vars ? { vars: this.vars } : {}) });
  }
  get(path: string, opts?: CallOpts) {
    return this.call("GET", path, opts);
  }
  put(path: string, body: unknown, opts: CallOpts = {}) {
    return this.call("PUT", path, { ...opts, body });
  }
  post(path: string, body: unknown, opts: CallOpts = {}) {
    return this.call("POST", path, { ...opts, body });
  }
  del(path: string, opts?: CallOpts) {
    return this.call("DELETE", path, opts);
  }
}

/** "1300000000.12" → 1300000000120; throws unless exactly two decimals. */
export function tsMs(text: string | null | undefined): number {
  if (text === null || text === undefined) throw new Error("missing timestamp");
  if (!/^\d+\.\d\d$/.test(text)) throw new Error(`not a 2-decimal timestamp: ${text}`);
  return Math.round(Number(text) * 100) * 10;
}

export function fmt(ms: number): string {
  return (ms / 1000).toFixed(2);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
