/** Test client for the User API 1.0 routes, driven through the 1.x pipeline (no src/index.ts needed). */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { parseConfig, type Config } from "../../src/config";
import { legacyApp } from "../../src/routes/pipeline-1x";
import { userRoutes } from "../../src/routes/user";
import { clientUsername } from "../../src/lib/usernames";
import { toBase64 } from "../../src/auth/password";

export const ORIGIN = "http://sync.example:8787";

export function config(over: Record<string, string> = {}): Config {
  return parseConfig({ REGISTRATION: "open", STRICT_USERNAMES: "true", ...over });
}

export interface CallOptions {
  body?: BodyInit | null;
  headers?: Record<string, string>;
  config?: Config;
  env?: Env;
}

export async function call(method: string, path: string, opts: CallOptions = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const req = new Request(`${ORIGIN}${path}`, { method, body: opts.body ?? null, headers: opts.headers });
  const cfg = opts.config ?? config();
  const res = await legacyApp(userRoutes, { config: () => cfg }).fetch(req, opts.env ?? env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

export function basic(user: string, password: string | Uint8Array): string {
  const enc = new TextEncoder();
  const pw = typeof password === "string" ? enc.encode(password) : password;
  const u = enc.encode(`${user}:`);
  const all = new Uint8Array(u.length + pw.length);
  all.set(u);
  all.set(pw, u.length);
  return `Basic ${toBase64(all)}`;
}

let seq = 0;
/** A fresh e-mail and its strict user name. */
export async function freshAccount(prefix = "user"): Promise<{ email: string; user: string; password: string }> {
  const email = `${prefix}.${Date.now()}.${seq++}@example.com`;
  return { email, user: await clientUsername(email), password: "a good password" };
}

/** Creates an account through PUT (strict usernames). */
export async function register(prefix = "user"): Promise<{ email: string; user: string; password: string }> {
  const a = await freshAccount(prefix);
  const res = await call("PUT", `/user/1.0/${a.user}`, { body: JSON.stringify({ email: a.email, password: a.password }) });
  if (res.status !== 200) throw new Error(`registration failed: ${res.status} ${await res.text()}`);
  return a;
}

export const TEXT = "text/plain; charset=UTF-8";
export const HTML = "text/html; charset=UTF-8";
export const JSON_CT = "application/json";

const EXPL = {
  400: "The server could not comply with the request since it is either malformed or otherwise incorrect.",
  401: "This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.",
  404: "The resource could not be found.",
  500: "The server has either erred or is incapable of performing the requested operation.",
  503: "The server is currently unavailable. Please try again at a later time.",
} as const;
const REASON = { 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable" } as const;

/** S11-14.3 plain variant. */
export function webobText(status: keyof typeof EXPL, detail = ""): string {
  return `${status} ${REASON[status]}\n\n${EXPL[status]}\n\n ${detail}  `;
}
