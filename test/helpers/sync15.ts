/**
 * A Storage 1.5 test client that talks to the real Worker (`SELF.fetch`) the
 * way Firefox does: it signs in at the tokenserver with an OAuth access token
 * from a mock Mozilla account server, and signs every storage request with
 * Hawk (rules HAWK-3, HAWK-4) using the token and key it got back.
 *
 * The mock account server: an RSA key made once per isolate whose public
 * half is published at the default JWKS address (`FXA_JWKS_URL`), and the
 * default remote verifier refuses every token; requests to both are answered
 * here instead of the network (the Worker runs in this isolate and calls the
 * global fetch). `SYNC_MASTER_SECRET` comes from
 * vitest.config.ts (random per run).
 *
 * Special cases the conformance tests need, still with real Hawk: `as`
 * names another principal ("<uid>" or "<uid>;expired") whose token is minted
 * with the master secret (the tokenserver never hands out expired tokens or
 * tokens for another account); a client built with `vars` sends its requests
 * to the Worker's fetch handler with those settings layered over the test
 * environment (SELF's settings are fixed for the run).
 */
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import worker from "../../src/index";
import { makeToken, randomSalt } from "../../src/auth/tokenlib";
import { readReply, type Reply } from "./reply";

export const ORIGIN = "http://sync.test";
export const JWKS_URL = "https://oauth.accounts.firefox.com/v1/jwks";
/** The default remote verifier (`FXA_OAUTH_SERVER_URL` + /v1/verify), answered here too. */
export const VERIFY_URL = "https://oauth.accounts.firefox.com/v1/verify";
export const SYNC_SCOPE = "https://identity.mozilla.com/apps/oldsync";
const KID = "weave-edge-test-key";

export type { Reply };

// ---------------------------------------------------------------- encoding

const utf8 = (s: string) => new TextEncoder().encode(s);
function b64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}
const b64url = (bytes: Uint8Array) => b64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const randomHex = (n: number) => hex(crypto.getRandomValues(new Uint8Array(n)));

// ---------------------------------------------------------------- mock Mozilla account server

interface MockFxaState {
  pair: CryptoKeyPair;
  jwk: JsonWebKey;
  originalFetch: typeof fetch;
}

const G = globalThis as unknown as { __weaveMockFxa?: Promise<MockFxaState> };

let remoteVerifications = 0;
/** How many times the Worker asked the (stand-in) remote verifier so far. */
export function remoteVerificationCount(): number {
  return remoteVerifications;
}

/** Installs (once per isolate) the key and the fetch interception of the JWKS address. */
function mockFxa(): Promise<MockFxaState> {
  G.__weaveMockFxa ??= (async () => {
    const pair = (await crypto.subtle.generateKey(
      { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      true,
      ["sign", "verify"],
    )) as CryptoKeyPair;
    const jwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
    const originalFetch = globalThis.fetch;
    globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url === JWKS_URL) return Response.json({ keys: [{ ...jwk, kid: KID, use: "sig", alg: "RS256" }] });
      // Every token this server can vouch for is a JWT checked against the keys above, so the
      // remote verifier (TS10-4.2: not a JWT, or no usable key) answers as the real one does for a
      // token it does not know, and nothing leaves the test for the real account server.
      if (url === VERIFY_URL) {
        remoteVerifications += 1;
        return Response.json({ code: 400, errno: 108, error: "Bad Request", message: "Invalid token" }, { status: 400 });
      }
      return originalFetch(input, init);
    }) as typeof fetch;
    return { pair, jwk, originalFetch };
  })();
  return G.__weaveMockFxa;
}

/** An RS256 OAuth access token for `sub` with the sync scope, as the account server issues. */
export async function accessToken(sub: string, o: { generation?: number; scope?: string } = {}): Promise<string> {
  const { pair } = await mockFxa();
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: "RS256", kid: KID, typ: "at+JWT" };
  const claims = { sub, scope: o.scope ?? `profile ${SYNC_SCOPE}`, iat: now, exp: now + 3600, client_id: "5882386c6d801776", "fxa-generation": o.generation ?? 1 };
  const input = `${b64url(utf8(JSON.stringify(header)))}.${b64url(utf8(JSON.stringify(claims)))}`;
  const sig = new Uint8Array(await crypto.subtle.sign("RSASSA-PKCS1-v1_5", pair.privateKey, utf8(input)));
  return `${input}.${b64url(sig)}`;
}

// ---------------------------------------------------------------- tokenserver

export interface Credentials {
  id: string;
  key: string;
  uid: number;
  endpoint: string;
}

/** Signs in at the tokenserver (TS10-7) as a new Mozilla account; returns its storage credentials. */
export async function signIn(): Promise<Credentials> {
  const jwt = await accessToken(randomHex(16));
  const res = await SELF.fetch(`${ORIGIN}/1.0/sync/1.5`, {
    headers: { Authorization: `Bearer ${jwt}`, "X-KeyID": `1700000000000-${b64url(crypto.getRandomValues(new Uint8Array(16)))}`, Accept: "application/json" },
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`tokenserver answered ${res.status}: ${text}`);
  const body = JSON.parse(text) as { id: string; key: string; uid: number; api_endpoint: string };
  return { id: body.id, key: body.key, uid: body.uid, endpoint: body.api_endpoint };
}

/** A token for any uid, minted with the run's master secret (expired on request). */
export async function mintedCredentials(uid: number, expired = false): Promise<{ id: string; key: string }> {
  const secret = (env as unknown as Record<string, string>).SYNC_MASTER_SECRET;
  if (!secret) throw new Error("SYNC_MASTER_SECRET is not set for the tests (vitest.config.ts)");
  const now = Math.floor(Date.now() / 1000);
  const t = await makeToken({ uid, node: ORIGIN, expires: expired ? now - 60 : now + 300, salt: randomSalt(), fxa_uid: "f".repeat(32) }, secret);
  return { id: t.token, key: t.key };
}

// ---------------------------------------------------------------- Hawk

/** The Authorization header for one request (HAWK-2, HAWK-3, HAWK-4), written from the rules, not from src/. */
export async function hawkAuthorization(cred: { id: string; key: string }, method: string, url: string, nonce = b64(crypto.getRandomValues(new Uint8Array(6)))): Promise<string> {
  const u = new URL(url);
  const ts = String(Math.floor(Date.now() / 1000));
  const port = u.port || (u.protocol === "https:" ? "443" : "80");
  const normalized = ["hawk.1.header", ts, nonce, method.toUpperCase(), u.pathname + u.search, u.hostname.toLowerCase(), port, "", ""].join("\n") + "\n";
  const key = await crypto.subtle.importKey("raw", utf8(cred.key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = b64(new Uint8Array(await crypto.subtle.sign("HMAC", key, utf8(normalized))));
  return `Hawk id="${cred.id}", ts="${ts}", nonce="${nonce}", mac="${mac}"`;
}

// ---------------------------------------------------------------- transport

/** Sends to SELF, or (with vars) to the Worker's fetch handler with those settings over the test env. */
export async function send(req: Request, vars?: Record<string, string>): Promise<Reply> {
  if (!vars) return readReply(await SELF.fetch(req));
  const ctx = createExecutionContext();
  const res = await worker.fetch(req, { ...env, ...vars } as unknown as Env, ctx);
  const reply = await readReply(res);
  await waitOnExecutionContext(ctx);
  return reply;
}

/** An unauthenticated request to the Worker. */
export async function raw(
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: BodyInit; vars?: Record<string, string> } = {},
): Promise<Reply> {
  return send(new Request(`${ORIGIN}${path}`, { method, headers: init.headers, body: init.body }), init.vars);
}

export interface CallOpts {
  body?: unknown;
  raw?: BodyInit;
  headers?: Record<string, string>;
  /** Sign as another principal instead of the client's own: "<uid>" or "<uid>;expired"; null sends no Authorization. */
  as?: string | null;
  /** Sign with these credentials (e.g. another client's) instead. */
  credentials?: { id: string; key: string };
}

export class Client15 {
  private minted = new Map<string, Promise<{ id: string; key: string }>>();
  private constructor(
    private readonly cred: Credentials,
    private readonly vars?: Record<string, string>,
  ) {}

  /** A new Mozilla account signed in at the tokenserver. `vars`: settings layered over the test env for its storage requests. */
  static async create(vars?: Record<string, string>): Promise<Client15> {
    return new Client15(await signIn(), vars);
  }
  /** This client's tokenserver credentials (token and Hawk key). */
  get credentials(): Credentials {
    return this.cred;
  }
  get uid(): number {
    return this.cred.uid;
  }
  get base(): string {
    return `/1.5/${this.uid}`;
  }

  private credentialsFor(as: string): Promise<{ id: string; key: string }> {
    if (as === String(this.uid)) return Promise.resolve(this.cred);
    let p = this.minted.get(as);
    if (!p) {
      const [uid, flag] = as.split(";");
      p = mintedCredentials(Number(uid), flag === "expired");
      this.minted.set(as, p);
    }
    return p;
  }

  async call(method: string, path: string, opts: CallOpts = {}): Promise<Reply> {
    const url = `${ORIGIN}${this.base}${path}`;
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const as = opts.as === undefined ? String(this.uid) : opts.as;
    if (opts.credentials) headers.Authorization = await hawkAuthorization(opts.credentials, method, url);
    else if (as !== null) headers.Authorization = await hawkAuthorization(await this.credentialsFor(as), method, url);
    let body = opts.raw;
    if (body === undefined && opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      if (!Object.keys(headers).some((k) => k.toLowerCase() === "content-type")) headers["Content-Type"] = "application/json";
    }
    return send(new Request(url, { method, headers, body }), this.vars);
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
