import { env } from "cloudflare:test";
import { Hono } from "hono";
import { beforeEach, describe, expect, it } from "vitest";
import { toBase64UrlNoPad } from "../../src/auth/encoding";
import { deriveHawkKey, parseToken } from "../../src/auth/tokenlib";
import type { AppEnv } from "../../src/env";
import { hashedFxaUid } from "../../src/tokenserver/derive";
import { JwksCache } from "../../src/tokenserver/fxa";
import { createTokenserverApp, parseDuration } from "../../src/tokenserver/routes";
import { createMockFxa, FXA_URL, SYNC_SCOPE, type MockFxa } from "./mock-fxa";

const SECRET = "tokenserver-test-master-secret";
const DOMAIN = "api-accounts.stage.mozaws.net";
const BASE_VARS = {
  SYNC_MASTER_SECRET: SECRET,
  FXA_METRICS_HASH_SECRET: SECRET,
  FXA_OAUTH_SERVER_URL: FXA_URL,
  FXA_EMAIL_DOMAIN: DOMAIN,
  PUBLIC_URL: "",
};

let fxa: MockFxa;
let app: Hono<AppEnv>;
let vars: Record<string, string>;
/** Added to the tokenserver's clock (ms). */
let clockOffset = 0;

function randomUid(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

function keyId(kca: number, clientStateHex: string): string {
  const bytes = new Uint8Array(clientStateHex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(clientStateHex.slice(2 * i, 2 * i + 2), 16);
  return `${kca}-${toBase64UrlNoPad(bytes)}`;
}

interface Call {
  auth?: string | null;
  keyId?: string | null;
  clientState?: string;
  path?: string;
  origin?: string;
}

async function call(c: Call = {}): Promise<Response> {
  const headers = new Headers({ Accept: "application/json" });
  if (c.auth !== null && c.auth !== undefined) headers.set("Authorization", c.auth);
  if (c.keyId !== null && c.keyId !== undefined) headers.set("X-KeyID", c.keyId);
  if (c.clientState !== undefined) headers.set("X-Client-State", c.clientState);
  return app.request(`${c.origin ?? "http://localhost:8787"}${c.path ?? "/1.0/sync/1.5"}`, { headers }, { ...env, ...vars });
}

/** A token request for an account; returns parsed JSON and the response. */
async function tokenFor(
  sub: string,
  o: { generation?: number; kca: number; cs: string; path?: string; origin?: string },
): Promise<{ res: Response; body: Record<string, unknown> }> {
  const jwt = await fxa.mint({ sub, generation: o.generation });
  const res = await call({ auth: `Bearer ${jwt}`, keyId: keyId(o.kca, o.cs), path: o.path, origin: o.origin });
  return { res, body: (await res.json()) as Record<string, unknown> };
}

function errBody(status: string, location: string, name: string, description: string) {
  return { status, errors: [{ location, name, description }] };
}

const CS_A = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const CS_B = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const CS_C = "cccccccccccccccccccccccccccccccc";

beforeEach(async () => {
  fxa = await createMockFxa();
  clockOffset = 0;
  app = new Hono<AppEnv>().route("/", createTokenserverApp({ fetch: fxa.fetch, jwksCache: new JwksCache(), nowMs: () => Date.now() + clockOffset }));
  vars = { ...BASE_VARS };
});

describe("TS10-10 successful response", () => {
  it("TS10-10: body, headers, and a token the storage side accepts", async () => {
    const sub = randomUid();
    const { res, body } = await tokenFor(sub, { generation: 10, kca: 1700000000123, cs: CS_A });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(Number(res.headers.get("x-timestamp"))).toBeGreaterThan(1_700_000_000);
    expect(Object.keys(body)).toEqual(["id", "key", "uid", "api_endpoint", "duration", "hashed_fxa_uid", "hashalg", "node_type"]);
    expect(Number.isInteger(body.uid)).toBe(true);
    expect(body.api_endpoint).toBe(`http://localhost:8787/1.5/${body.uid}`);
    expect(body.duration).toBe(3600);
    expect(body.hashalg).toBe("sha256");
    expect(body.hashed_fxa_uid).toBe(await hashedFxaUid(SECRET, sub));
    const parsed = await parseToken(body.id as string, [SECRET]);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.payload).toMatchObject({
      uid: body.uid,
      node: "http://localhost:8787",
      fxa_uid: sub,
      fxa_kid: keyId(1700000000123, CS_A).replace(/^/, ""),
      tokenserver_origin: "rust",
    });
    expect(parsed.payload.salt).toMatch(/^[0-9a-f]{6}$/);
    expect(await deriveHawkKey(body.id as string, parsed.payload.salt, SECRET)).toBe(body.key);
    expect((body.key as string).length).toBe(44);
  });

  it("TS10-9.2: fxa_kid is zero-padded keys_changed_at (or generation) + client state", async () => {
    const { body } = await tokenFor(randomUid(), { kca: 1234, cs: "aaaa" });
    const p = await parseToken(body.id as string, [SECRET]);
    expect(p.ok && p.payload.fxa_kid).toBe("0000000001234-qqo");
  });

  it("TS10-2: /token/1.0/sync/1.5 path shape also works", async () => {
    const { res } = await tokenFor(randomUid(), { kca: 1, cs: CS_A, path: "/token/1.0/sync/1.5" });
    expect(res.status).toBe(200);
  });

  it("TS10-15: api_endpoint uses PUBLIC_URL and the node registers itself", async () => {
    vars.PUBLIC_URL = "https://sync.example.net/";
    const { body } = await tokenFor(randomUid(), { kca: 1, cs: CS_A });
    expect(body.api_endpoint).toBe(`https://sync.example.net/1.5/${body.uid}`);
    const node = await env.DB.prepare("SELECT * FROM nodes WHERE node = ?").bind("https://sync.example.net").first<Record<string, number>>();
    expect(node).toMatchObject({ capacity: 100000, downed: 0, backoff: 0 });
    expect(node!.current_load).toBeGreaterThanOrEqual(1);
  });

  it("TS10-2: duration parameter", async () => {
    for (const [q, d] of [
      ["12", 12],
      ["4000", 3600],
      ["lolwut", 3600],
      ["-1", 3600],
      ["0", 3600],
    ] as const) {
      expect(parseDuration(q, 3600), q).toBe(d);
    }
    const { body } = await tokenFor(randomUid(), { kca: 1, cs: CS_A, path: "/1.0/sync/1.5?duration=12" });
    expect(body.duration).toBe(12);
    const p = await parseToken(body.id as string, [SECRET]);
    expect(p.ok && p.payload.expires - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(12);
  });

  it("TS10-11 row 12: malformed query string → 400", async () => {
    const { res, body } = await tokenFor(randomUid(), { kca: 1, cs: CS_A, path: "/1.0/sync/1.5?duration=%zz" });
    expect(res.status).toBe(400);
    expect(body).toEqual(errBody("error", "url", "", "invalid query params"));
  });
});

describe("TS10-3 / TS10-11 request errors", () => {
  it("TS10-11 row 1: no Authorization", async () => {
    const res = await call({ keyId: "1-qqo" });
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await res.json()).toEqual(errBody("error", "body", "", "Unauthorized"));
  });
  it("TS10-11 row 2: header without a space", async () => {
    const res = await call({ auth: "Bearer", keyId: "1-qqo" });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual(errBody("error", "body", "", "Unauthorized"));
  });
  it("TS10-11 row 3 / TS10-3.1: BrowserID and other schemes are Unsupported", async () => {
    for (const a of ["BrowserID abc.def", "Hawk id=x", "Basic Zm9vOmJhcg=="]) {
      const res = await call({ auth: a, keyId: "1-qqo" });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual(errBody("error", "body", "", "Unsupported"));
    }
  });
  it("TS10-3.1: scheme is case-insensitive", async () => {
    const jwt = await fxa.mint({ sub: randomUid() });
    expect((await call({ auth: `bearer ${jwt}`, keyId: keyId(1, CS_A) })).status).toBe(200);
  });
  it("TS10-11 row 5: X-KeyID missing", async () => {
    const jwt = await fxa.mint({ sub: randomUid() });
    const res = await call({ auth: `Bearer ${jwt}` });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual(errBody("invalid-key-id", "header", "", "Missing X-KeyID header"));
  });
  it("TS10-11 row 6: X-KeyID malformed", async () => {
    const jwt = await fxa.mint({ sub: randomUid() });
    for (const k of ["1234", "abc-qqo", "12-q*o"]) {
      const res = await call({ auth: `Bearer ${jwt}`, keyId: k });
      expect(res.status, k).toBe(401);
      expect(await res.json()).toEqual(errBody("invalid-credentials", "body", "", "Unauthorized"));
    }
  });
  it("TS10-11 row 7: X-Client-State fails its regex", async () => {
    const jwt = await fxa.mint({ sub: randomUid() });
    const res = await call({ auth: `Bearer ${jwt}`, keyId: keyId(1, CS_A), clientState: "not valid!" });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual(errBody("error", "header", "X-Client-State", "Invalid client state value"));
  });
  it("TS10-11 row 8: X-Client-State differs from X-KeyID", async () => {
    const jwt = await fxa.mint({ sub: randomUid() });
    const res = await call({ auth: `Bearer ${jwt}`, keyId: keyId(1, CS_A), clientState: CS_B });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual(errBody("invalid-client-state", "body", "", "Unauthorized"));
    const ok = await call({ auth: `Bearer ${jwt}`, keyId: keyId(1, CS_A), clientState: CS_A });
    expect(ok.status).toBe(200);
  });
  it("TS10-11 rows 9–10 / TS10-2: unknown application or version → 404", async () => {
    const jwt = await fxa.mint({ sub: randomUid() });
    let res = await call({ auth: `Bearer ${jwt}`, keyId: keyId(1, CS_A), path: "/1.0/xxx/1.5" });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual(errBody("error", "url", "application", "Unsupported application"));
    res = await call({ auth: `Bearer ${jwt}`, keyId: keyId(1, CS_A), path: "/1.0/sync/1.1" });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual(errBody("error", "url", "1.1", "Unsupported application version"));
  });
  it("TS10-2: credentials are checked before the application (reference order)", async () => {
    const res = await call({ auth: "Bearer garbage", keyId: keyId(1, CS_A), path: "/1.0/xxx/1.5" });
    expect(res.status).toBe(401);
  });
});

describe("TS10-4 OAuth verification", () => {
  const invalid = errBody("invalid-credentials", "body", "", "Unauthorized");
  async function status(jwt: string): Promise<[number, unknown]> {
    const res = await call({ auth: `Bearer ${jwt}`, keyId: keyId(1, CS_A) });
    return [res.status, await res.json()];
  }

  it("TS10-4.1: signature by an unknown key → 401", async () => {
    expect(await status(await fxa.mint({ sub: randomUid(), wrongKey: true }))).toEqual([401, invalid]);
  });
  it("TS10-4.1: expired beyond the 60 s leeway → 401; within leeway → 200", async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(await status(await fxa.mint({ sub: randomUid(), exp: now - 120 }))).toEqual([401, invalid]);
    expect((await status(await fxa.mint({ sub: randomUid(), exp: now - 30 })))[0]).toBe(200);
  });
  it("TS10-4.1: typ must be at+jwt or application/at+jwt (case-insensitive)", async () => {
    expect(await status(await fxa.mint({ sub: randomUid(), typ: null }))).toEqual([401, invalid]);
    expect(await status(await fxa.mint({ sub: randomUid(), typ: "JWT" }))).toEqual([401, invalid]);
    expect((await status(await fxa.mint({ sub: randomUid(), typ: "application/AT+jwt" })))[0]).toBe(200);
  });
  it("TS10-4.1: algorithm other than RS256 → 401", async () => {
    expect(await status(await fxa.mint({ sub: randomUid(), alg: "HS256" }))).toEqual([401, invalid]);
  });
  it("TS10-4.3: scope must contain exactly the sync scope (comma or space separated)", async () => {
    expect(await status(await fxa.mint({ sub: randomUid(), scope: "profile" }))).toEqual([401, invalid]);
    expect(await status(await fxa.mint({ sub: randomUid(), scope: `${SYNC_SCOPE}x` }))).toEqual([401, invalid]);
    expect((await status(await fxa.mint({ sub: randomUid(), scope: `profile,${SYNC_SCOPE}` })))[0]).toBe(200);
  });
  it("TS10-4.1: JWKS is fetched once and cached; unknown kid triggers a refetch", async () => {
    await status(await fxa.mint({ sub: randomUid() }));
    await status(await fxa.mint({ sub: randomUid() }));
    expect(fxa.calls.filter((c) => c.url.endsWith("/v1/jwks")).length).toBe(1);
    await fxa.rotate();
    // Refetches are rate-limited (10 s per isolate)…
    expect((await status(await fxa.mint({ sub: randomUid() })))[0]).toBe(401);
    expect(fxa.calls.filter((c) => c.url.endsWith("/v1/jwks")).length).toBe(1);
    // …after that, an unknown key makes us refetch and succeed.
    clockOffset = 11_000;
    expect((await status(await fxa.mint({ sub: randomUid() })))[0]).toBe(200);
    expect(fxa.calls.filter((c) => c.url.endsWith("/v1/jwks")).length).toBe(2);
  });
  it("TS10-4.1: pinned FXA_OAUTH_JWKS is used without fetching", async () => {
    const res = await fxa.fetch(`${FXA_URL}/v1/jwks`);
    vars.FXA_OAUTH_JWKS = await res.text();
    fxa.calls.length = 0;
    expect((await status(await fxa.mint({ sub: randomUid() })))[0]).toBe(200);
    expect(fxa.calls.length).toBe(0);
  });
  it("TS10-4.2: non-JWT token falls back to POST /v1/verify", async () => {
    const sub = randomUid();
    fxa.opaque.set("opaque-token", { status: 200, body: { user: sub, scope: [SYNC_SCOPE], generation: 5, client_id: "x" } });
    const res = await call({ auth: "Bearer opaque-token", keyId: keyId(1, CS_A) });
    expect(res.status).toBe(200);
    const verify = fxa.calls.find((c) => c.url === `${FXA_URL}/v1/verify`);
    expect(verify?.method).toBe("POST");
    expect(JSON.parse(verify?.body ?? "{}")).toEqual({ token: "opaque-token" });
    const body = (await res.json()) as { id: string };
    const p = await parseToken(body.id, [SECRET]);
    expect(p.ok && p.payload.fxa_uid).toBe(sub);
  });
  it("TS10-4.2: verify non-2xx, bad body or wrong scope → 401", async () => {
    fxa.opaque.set("t1", { status: 500, body: {} });
    fxa.opaque.set("t2", { status: 200, body: { nope: 1 } });
    fxa.opaque.set("t3", { status: 200, body: { user: randomUid(), scope: ["profile"] } });
    for (const t of ["t1", "t2", "t3", "unknown"]) {
      const res = await call({ auth: `Bearer ${t}`, keyId: keyId(1, CS_A) });
      expect(res.status, t).toBe(401);
      expect(await res.json()).toEqual(invalid);
    }
  });
  it("TS10-4.1 → TS10-4.2: JWKS unavailable falls back to remote verification", async () => {
    fxa.jwksStatus = 503;
    const jwt = await fxa.mint({ sub: randomUid() });
    const res = await call({ auth: `Bearer ${jwt}`, keyId: keyId(1, CS_A) });
    expect(res.status).toBe(401); // the mock's verify endpoint does not know this JWT
    expect(fxa.calls.some((c) => c.url.endsWith("/v1/verify"))).toBe(true);
  });
  it("TS10-4.1: FXA_OAUTH_ISSUER, when set, is checked", async () => {
    vars.FXA_OAUTH_ISSUER = "https://accounts.example";
    expect(await status(await fxa.mint({ sub: randomUid() }))).toEqual([401, invalid]);
    expect((await status(await fxa.mint({ sub: randomUid(), extraClaims: { iss: "https://accounts.example" } })))[0]).toBe(200);
  });
});

describe("TS10-7 users and uids", () => {
  it("TS10-7.1: the same account and keys get the same uid", async () => {
    const sub = randomUid();
    const a = await tokenFor(sub, { generation: 1, kca: 100, cs: CS_A });
    const b = await tokenFor(sub, { generation: 1, kca: 100, cs: CS_A });
    expect(b.body.uid).toBe(a.body.uid);
    const c = await tokenFor(randomUid(), { kca: 100, cs: CS_A });
    expect(c.body.uid).not.toBe(a.body.uid);
  });

  it("TS10-7.1 / TS10-11 row 11: new users disabled → 403; existing users unaffected", async () => {
    const sub = randomUid();
    const a = await tokenFor(sub, { kca: 100, cs: CS_A });
    vars.ALLOW_NEW_SYNC_USERS = "false";
    const b = await tokenFor(sub, { kca: 100, cs: CS_A });
    expect(b.body.uid).toBe(a.body.uid);
    const c = await tokenFor(randomUid(), { kca: 100, cs: CS_A });
    expect(c.res.status).toBe(403);
    expect(c.body).toEqual(errBody("new-users-disabled", "body", "", "New users are not allowed"));
  });

  it("tokenserver allow-list: SYNC_ALLOWED_ACCOUNTS admits listed accounts only, with a readable refusal", async () => {
    const ok = randomUid();
    const ok2 = randomUid();
    const no = randomUid();
    vars.SYNC_ALLOWED_ACCOUNTS = `${ok.toUpperCase()}, ${ok2}@${DOMAIN}`;
    expect((await tokenFor(ok, { kca: 1, cs: CS_A })).res.status).toBe(200);
    expect((await tokenFor(ok2, { kca: 1, cs: CS_A })).res.status).toBe(200);
    const r = await tokenFor(no, { kca: 1, cs: CS_A });
    expect(r.res.status).toBe(403);
    expect(r.body.status).toBe("not-allowed");
    expect(JSON.stringify(r.body)).toContain(no);
  });

  it("TS10-7.3: key change with newer generation and keys_changed_at → new uid, old row replaced", async () => {
    const sub = randomUid();
    const a = await tokenFor(sub, { generation: 100, kca: 100, cs: CS_A });
    const b = await tokenFor(sub, { generation: 200, kca: 200, cs: CS_B });
    expect(b.res.status).toBe(200);
    expect(b.body.uid).not.toBe(a.body.uid);
    const rows = await env.DB.prepare("SELECT uid, client_state, replaced_at, generation, keys_changed_at FROM users WHERE email = ? ORDER BY uid")
      .bind(`${sub}@${DOMAIN}`)
      .all<Record<string, unknown>>();
    expect(rows.results).toMatchObject([
      { uid: a.body.uid, client_state: CS_A },
      { uid: b.body.uid, client_state: CS_B, replaced_at: null, generation: 200, keys_changed_at: 200 },
    ]);
    expect(rows.results[0]!.replaced_at).not.toBeNull();
    // TS10-7.2 #3: the old key may never come back.
    const c = await tokenFor(sub, { generation: 300, kca: 300, cs: CS_A });
    expect(c.res.status).toBe(401);
    expect(c.body).toEqual(errBody("invalid-client-state", "header", "X-Client-State", "Unacceptable client-state value stale value"));
  });

  it("TS10-7.2 #2: empty client state after a known one", async () => {
    const sub = randomUid();
    await tokenFor(sub, { generation: 100, kca: 100, cs: CS_A });
    const r = await tokenFor(sub, { generation: 200, kca: 200, cs: "" });
    expect(r.res.status).toBe(401);
    expect(r.body).toEqual(errBody("invalid-client-state", "header", "X-Client-State", "Unacceptable client-state value empty string"));
  });

  it("TS10-7.2 #4: new client state without a generation change", async () => {
    const sub = randomUid();
    await tokenFor(sub, { generation: 500, kca: 100, cs: CS_A });
    const r = await tokenFor(sub, { generation: 500, kca: 200, cs: CS_B });
    expect(r.res.status).toBe(401);
    expect(r.body).toEqual(
      errBody("invalid-client-state", "header", "X-Client-State", "Unacceptable client-state value new value with no generation change"),
    );
  });

  it("TS10-7.2 #5: new client state without a keys_changed_at change", async () => {
    const sub = randomUid();
    await tokenFor(sub, { generation: 500, kca: 100, cs: CS_A });
    const r = await tokenFor(sub, { generation: 600, kca: 100, cs: CS_B });
    expect(r.res.status).toBe(401);
    expect(r.body).toEqual(
      errBody("invalid-client-state", "header", "X-Client-State", "Unacceptable client-state value new value with no keys_changed_at change"),
    );
  });

  it("TS10-7.2 #6: generation going backwards", async () => {
    const sub = randomUid();
    await tokenFor(sub, { generation: 5, kca: 100, cs: CS_A });
    const r = await tokenFor(sub, { generation: 4, kca: 100, cs: CS_A });
    expect(r.res.status).toBe(401);
    expect(r.body).toEqual(errBody("invalid-generation", "body", "", "Unauthorized"));
  });

  it("TS10-7.2 #7: keys_changed_at going backwards", async () => {
    const sub = randomUid();
    await tokenFor(sub, { generation: 5, kca: 100, cs: CS_A });
    const r = await tokenFor(sub, { generation: 5, kca: 99, cs: CS_A });
    expect(r.res.status).toBe(401);
    expect(r.body).toEqual(errBody("invalid-keysChangedAt", "body", "", "Unauthorized"));
  });

  it("TS10-7.2 #8: keys_changed_at omitted (0) once known", async () => {
    const sub = randomUid();
    await tokenFor(sub, { generation: 5, kca: 100, cs: CS_A });
    const r = await tokenFor(sub, { generation: 5, kca: 0, cs: CS_A });
    expect(r.res.status).toBe(401);
    expect(r.body).toEqual(errBody("invalid-keysChangedAt", "body", "", "Unauthorized"));
  });

  it("TS10-7.2 #1: keys_changed_at newer than the generation", async () => {
    const sub = randomUid();
    await tokenFor(sub, { generation: 150, kca: 100, cs: CS_A });
    const r2 = await tokenFor(sub, { generation: 150, kca: 200, cs: CS_A });
    expect(r2.res.status).toBe(401);
    expect(r2.body).toEqual(errBody("invalid-keysChangedAt", "body", "", "Unauthorized"));
  });

  it("TS10-7.3: generation / keys_changed_at move forward in place (same uid)", async () => {
    const sub = randomUid();
    const a = await tokenFor(sub, { generation: 5, kca: 100, cs: CS_A });
    const b = await tokenFor(sub, { generation: 7, kca: 100, cs: CS_A });
    expect(b.body.uid).toBe(a.body.uid);
    const row = await env.DB.prepare("SELECT generation, keys_changed_at FROM users WHERE uid = ?").bind(a.body.uid).first();
    expect(row).toEqual({ generation: 7, keys_changed_at: 100 });
  });

  it("TS10-7.3: key change without a generation claim sets generation = keys_changed_at", async () => {
    const sub = randomUid();
    const a = await tokenFor(sub, { kca: 100, cs: CS_A });
    const b = await tokenFor(sub, { kca: 200, cs: CS_B });
    expect(b.res.status).toBe(200);
    expect(b.body.uid).not.toBe(a.body.uid);
    const row = await env.DB.prepare("SELECT generation, keys_changed_at FROM users WHERE uid = ?").bind(b.body.uid).first();
    expect(row).toEqual({ generation: 200, keys_changed_at: 200 });
    const p = await parseToken(b.body.id as string, [SECRET]);
    expect(p.ok && p.payload.fxa_kid).toBe(keyId(200, CS_B).replace(/^200/, "0000000000200"));
  });

  it("TS10-7.1: race recovery marks stray live rows replaced at current.created_at", async () => {
    const sub = randomUid();
    const email = `${sub}@${DOMAIN}`;
    // Register the node first via a request for another account.
    await tokenFor(randomUid(), { kca: 1, cs: CS_C });
    const node = await env.DB.prepare("SELECT id, service FROM nodes WHERE node = 'http://localhost:8787'").first<{ id: number; service: number }>();
    for (const created of [1234, 1235, 1240]) {
      await env.DB.prepare(
        "INSERT INTO users (service, email, generation, client_state, created_at, replaced_at, nodeid, keys_changed_at) VALUES (?, ?, 0, ?, ?, NULL, ?, NULL)",
      )
        .bind(node!.service, email, CS_A, created, node!.id)
        .run();
    }
    const r = await tokenFor(sub, { kca: 0, cs: CS_A });
    expect(r.res.status).toBe(200);
    const rows = await env.DB.prepare("SELECT created_at, replaced_at, uid FROM users WHERE email = ? ORDER BY created_at").bind(email).all();
    expect(rows.results.map((x) => [x.created_at, x.replaced_at])).toEqual([
      [1234, 1240],
      [1235, 1240],
      [1240, null],
    ]);
    expect(r.body.uid).toBe(rows.results[2]!.uid);
  });

  it("TS10-7.1: a user whose node row is gone gets a new uid (copying its state)", async () => {
    const sub = randomUid();
    const email = `${sub}@${DOMAIN}`;
    await tokenFor(randomUid(), { kca: 1, cs: CS_C });
    const svc = await env.DB.prepare("SELECT id FROM services WHERE service = 'sync-1.5'").first<{ id: number }>();
    const ins = await env.DB.prepare(
      "INSERT INTO users (service, email, generation, client_state, created_at, replaced_at, nodeid, keys_changed_at) VALUES (?, ?, 3, ?, 1000, NULL, 987654, 50) RETURNING uid",
    )
      .bind(svc!.id, email, CS_A)
      .first<{ uid: number }>();
    const r = await tokenFor(sub, { generation: 3, kca: 50, cs: CS_A });
    expect(r.res.status).toBe(200);
    expect(r.body.uid).not.toBe(ins!.uid);
    const row = await env.DB.prepare("SELECT generation, keys_changed_at, client_state FROM users WHERE uid = ?").bind(r.body.uid).first();
    expect(row).toEqual({ generation: 3, keys_changed_at: 50, client_state: CS_A });
  });

  it("TS10-7.1: retired account (MAX_GENERATION) fails validation", async () => {
    const sub = randomUid();
    const a = await tokenFor(sub, { generation: 1, kca: 1, cs: CS_A });
    await env.DB.prepare("UPDATE users SET generation = 9223372036854775807 WHERE uid = ?").bind(a.body.uid).run();
    const r = await tokenFor(sub, { generation: 2, kca: 1, cs: CS_A });
    expect(r.res.status).toBe(401);
    expect(r.body).toEqual(errBody("invalid-generation", "body", "", "Unauthorized"));
  });
});

describe("tokenserver config", () => {
  it("TS10-9.1: missing SYNC_MASTER_SECRET → 500 JSON internal-error", async () => {
    // Empty counts as unset (and also overrides a SYNC_MASTER_SECRET that a local .dev.vars gives env).
    vars.SYNC_MASTER_SECRET = "";
    const jwt = await fxa.mint({ sub: randomUid() });
    const res = await call({ auth: `Bearer ${jwt}`, keyId: keyId(1, CS_A) });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual(errBody("internal-error", "internal", "", "Server error"));
  });
});
