import { createExecutionContext, env } from "cloudflare:test";
import { legacyApp } from "../../src/routes/pipeline-1x";
import { storage11Routes } from "../../src/routes/storage-1.1";
import { userStoreFor } from "../../src/storage/stub";
import { afterEach, describe, expect, it, vi } from "vitest";
import { clearCredentialCache, findAccount } from "../../src/auth/accounts";
import { hashPassword } from "../../src/auth/password";
import { storageWiper, userRoutes, WEAK_PASSWORD_DETAIL } from "../../src/routes/user";
import type { Principal } from "../../src/env";
import {
  basic,
  call,
  config,
  freshAccount,
  HTML,
  JSON_CT,
  ORIGIN,
  register,
  TEXT,
  webobText,
} from "./user-helpers";

const TS = /^\d+\.\d{2}$/;

async function expectWeave(res: Response, code: number): Promise<void> {
  expect(res.status).toBe(400);
  expect(res.headers.get("Content-Type")).toBe(JSON_CT);
  expect(res.headers.has("X-Weave-Timestamp")).toBe(false);
  expect(await res.text()).toBe(String(code));
}

async function expectOk(res: Response, body: string, contentType: string): Promise<void> {
  expect(res.status).toBe(200);
  expect(res.headers.get("Content-Type")).toBe(contentType);
  expect(res.headers.get("X-Weave-Timestamp")).toMatch(TS);
  expect(await res.text()).toBe(body);
}

async function expect401(res: Response, opts: { challenge: boolean; detail?: string } = { challenge: false }): Promise<void> {
  expect(res.status).toBe(401);
  expect(res.headers.has("X-Weave-Timestamp")).toBe(false);
  if (opts.challenge) {
    expect(res.headers.get("WWW-Authenticate")).toBe('Basic realm="Sync"');
    expect(res.headers.get("Content-Type")).toBe("text/plain");
  } else {
    expect(res.headers.has("WWW-Authenticate")).toBe(false);
    expect(res.headers.get("Content-Type")).toBe(TEXT);
  }
  expect(await res.text()).toBe(webobText(401, opts.detail ?? ""));
}

const put = (user: string, body: unknown, opts: Parameters<typeof call>[2] = {}) =>
  call("PUT", `/user/1.0/${user}`, { ...opts, body: typeof body === "string" ? body : JSON.stringify(body) });

let wiped: number[] = [];
const realWipe = storageWiper.wipe;
afterEach(() => {
  storageWiper.wipe = realWipe;
  wiped = [];
  vi.restoreAllMocks();
});
function recordWipes(): void {
  storageWiper.wipe = async (_env: Env, p: Principal) => {
    if (p.kind === "account") wiped.push(p.userid);
  };
}

// ---------------------------------------------------------------------------
describe("U10-1 route table", () => {
  it("U10-1: both /user/1.0/ and /user/1/ prefixes route; /user/1.1/ does not (404 with X-Weave-Timestamp)", async () => {
    await expectOk(await call("GET", "/user/1.0/nobody"), "0", TEXT);
    await expectOk(await call("GET", "/user/1/nobody"), "0", TEXT);
    const res = await call("GET", "/user/1.1/nobody");
    expect(res.status).toBe(404);
    expect(res.headers.get("X-Weave-Timestamp")).toMatch(TS);
    expect(await res.text()).toBe(webobText(404));
  });

  it("U10-1: trailing slashes are stripped before routing", async () => {
    await expectOk(await call("GET", "/user/1.0/nobody/"), "0", TEXT);
  });

  it("U10-1: path matches but method does not → 405 before auth, with X-Weave-Timestamp", async () => {
    for (const [method, path] of [
      ["POST", "/user/1.0/someone"],
      ["POST", "/user/1.0/someone/password_reset"],
      ["GET", "/user/1.0/someone/email"],
      ["GET", "/user/1.0/someone/password"],
      ["HEAD", "/user/1.0/someone"],
      ["PUT", "/misc/1.0/captcha_html"],
    ] as const) {
      const res = await call(method, path);
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get("X-Weave-Timestamp")).toMatch(TS);
    }
  });

  it("U10-1: unknown paths → 404 (no profile, no admin endpoints)", async () => {
    for (const path of ["/user/1.0/someone/profile", "/user/1.0/some one", "/user/2/someone", "/misc/1.1/captcha_html"]) {
      expect((await call("GET", path)).status, path).toBe(404);
    }
  });
});

// ---------------------------------------------------------------------------
describe("U10-1 HTTP Basic on routed auth (S11-4)", () => {
  it("U10-1: missing Authorization → 401 with WWW-Authenticate and bare text/plain", async () => {
    const a = await register();
    await expect401(await call("DELETE", `/user/1.0/${a.user}`), { challenge: true });
    await expect401(await call("POST", `/user/1.0/${a.user}/email`, { body: "x@example.com" }), { challenge: true });
    await expect401(await call("DELETE", `/user/1.0/${a.user}/password_reset`), { challenge: true });
  });

  it("U10-1: bad 'Basic ' prefix / base64 / missing ':' → 401 'Invalid token'", async () => {
    const a = await register();
    for (const h of ["basic Zm9vOmJhcg==", "Bearer abc", "Basic !!!!=", `Basic ${btoa("nocolon")}`]) {
      await expect401(await call("DELETE", `/user/1.0/${a.user}`, { headers: { Authorization: h } }), {
        challenge: false,
        detail: "Invalid token",
      });
    }
  });

  it("U10-1: user in path ≠ authenticated user → 401 (case-sensitive), nothing deleted", async () => {
    const a = await register();
    const b = await register();
    recordWipes();
    await expect401(await call("DELETE", `/user/1.0/${a.user}`, { headers: { Authorization: basic(b.user, b.password) } }));
    await expect401(
      await call("DELETE", `/user/1.0/${a.user}`, { headers: { Authorization: basic(a.user.toUpperCase(), a.password) } }),
    );
    expect(wiped).toEqual([]);
    expect(await findAccount(env, a.user)).not.toBeNull();
  });

  it("U10-1: wrong password, unknown user, non-UTF-8 password → 401 without WWW-Authenticate", async () => {
    const a = await register();
    await expect401(await call("DELETE", `/user/1.0/${a.user}`, { headers: { Authorization: basic(a.user, "wrong password") } }));
    await expect401(await call("DELETE", "/user/1.0/ghost", { headers: { Authorization: basic("ghost", "whatever1") } }));
    const bad = new Uint8Array([0x61, 0xff, 0xfe, 0x62, 0x63, 0x64, 0x65, 0x66]);
    await expect401(await call("DELETE", `/user/1.0/${a.user}`, { headers: { Authorization: basic(a.user, bad) } }));
    expect(await findAccount(env, a.user)).not.toBeNull();
  });

  it("U10-6: accountStatus ≠ 1 → 401 even with the right password (and even when cached)", async () => {
    const a = await register();
    const auth = { Authorization: basic(a.user, a.password) };
    await expectOk(await call("POST", `/user/1.0/${a.user}/email`, { body: "new@example.com", headers: auth }), "new@example.com", TEXT);
    await env.DB.prepare(`UPDATE "user" SET accountStatus = 0 WHERE username = ?1`).bind(a.user).run();
    await expect401(await call("POST", `/user/1.0/${a.user}/email`, { body: "x@example.com", headers: auth }));
  });
});

// ---------------------------------------------------------------------------
describe("U10-2 common behaviour", () => {
  it("U10-2: raised errors carry no X-Weave-Timestamp; successes do", async () => {
    const res = await put("whoever", "not json");
    expect(res.headers.has("X-Weave-Timestamp")).toBe(false);
    expect((await call("GET", "/user/1.0/whoever")).headers.get("X-Weave-Timestamp")).toMatch(TS);
  });

  it("U10-2 REF-BUG: unknown query parameters are ignored (no 500)", async () => {
    const a = await register();
    await expectOk(await call("GET", `/user/1.0/${a.user}?x=1&request=2`), "1", TEXT);
    await expectOk(await call("GET", `/user/1.0/${a.user}/node/weave?foo=bar`), `${ORIGIN}/`, HTML);
    recordWipes();
    await expectOk(
      await call("DELETE", `/user/1.0/${a.user}?x=1`, { headers: { Authorization: basic(a.user, a.password) } }),
      "1",
      TEXT,
    );
  });

  it("U10-2: a database error → 503 with Retry-After and the doubly JSON-encoded crash id", async () => {
    const broken = {
      ...env,
      DB: {
        prepare() {
          throw new Error("D1_ERROR: database is down");
        },
      },
    } as unknown as Env;
    vi.spyOn(console, "error").mockImplementation(() => {});
    for (const [method, path] of [
      ["GET", "/user/1.0/someone"],
      ["GET", "/user/1.0/someone/node/weave"],
      ["DELETE", "/user/1.0/someone"],
    ] as const) {
      const res = await call(method, path, { env: broken, headers: { Authorization: basic("someone", "password1") } });
      expect(res.status, `${method} ${path}`).toBe(503);
      expect(res.headers.get("Retry-After")).toBe("10");
      expect(res.headers.get("Content-Type")).toBe(JSON_CT);
      expect(await res.text()).toMatch(/^"\\"application error: crash id [0-9a-f]{32}\\""$/);
    }
  });
});

// ---------------------------------------------------------------------------
describe("U10-7.1 GET /user/<v>/<u>", () => {
  it("U10-7.1: 1 if taken, 0 if not; exact, case-sensitive; text/plain; charset=UTF-8", async () => {
    const a = await register();
    await expectOk(await call("GET", `/user/1.0/${a.user}`), "1", TEXT);
    await expectOk(await call("GET", `/user/1/${a.user}`), "1", TEXT);
    await expectOk(await call("GET", `/user/1.0/${a.user.toUpperCase()}`), "0", TEXT);
    await expectOk(await call("GET", `/user/1.0/${a.user.slice(1)}`), "0", TEXT);
  });
});

// ---------------------------------------------------------------------------
describe("U10-7.2 PUT /user/<v>/<u>", () => {
  it("U10-7.2 step 9: 200, body = username as in the URL, text/html; row stored with PBKDF2 hash and mail", async () => {
    const a = await freshAccount();
    await expectOk(await put(a.user, { email: a.email, password: a.password }), a.user, HTML);
    const row = await findAccount(env, a.user);
    expect(row).toMatchObject({ username: a.user, mail: a.email, accountStatus: 1 });
    expect(row?.password).toMatch(/^\{PBKDF2-SHA256\}100000\$/);
    expect(row?.password).not.toContain(a.password);
  });

  it("U10-7.2 step 9: /user/1/ prefix creates too; mail stored as given (not lowercased)", async () => {
    const a = await freshAccount("MixedCase");
    await expectOk(await call("PUT", `/user/1/${a.user}`, { body: JSON.stringify({ email: a.email, password: a.password }) }), a.user, HTML);
    expect((await findAccount(env, a.user))?.mail).toBe(a.email);
  });

  it("U10-7.2 step 1: existing username → code 4 (before the body is even parsed)", async () => {
    const a = await register();
    await expectWeave(await put(a.user, "not json at all"), 4);
    await expectWeave(await put(a.user, { email: a.email, password: "another password" }), 4);
  });

  it("U10-7.2 step 2: body not JSON → code 6 (also non-UTF-8 and empty body)", async () => {
    const a = await freshAccount();
    await expectWeave(await put(a.user, "{email: nope"), 6);
    await expectWeave(await put(a.user, ""), 6);
    await expectWeave(await call("PUT", `/user/1.0/${a.user}`, { body: new Uint8Array([0x7b, 0xff, 0x7d]) }), 6);
  });

  it("U10-7.2 step 2 REF-BUG: valid JSON that is not an object → code 6, not 500", async () => {
    const a = await freshAccount();
    for (const body of ["[]", '["a"]', "null", "42", '"str"', "true"]) await expectWeave(await put(a.user, body), 6);
  });

  it("U10-7.2 step 3: invalid e-mail → code 12 (before the strict check)", async () => {
    const a = await freshAccount();
    await expectWeave(await put(a.user, { email: "not-an-email", password: a.password }), 12);
    await expectWeave(await put(a.user, { email: "a@b", password: "" }), 12);
  });

  it("U10-7.2 step 4: e-mail not hashing to the username (strict) → code 15, before password checks", async () => {
    const a = await freshAccount();
    await expectWeave(await put(a.user, { email: "someone.else@example.com", password: a.password }), 15);
    await expectWeave(await put(a.user, { email: "someone.else@example.com" }), 15);
    await expectWeave(await put(a.user.toUpperCase(), { email: a.email, password: a.password }), 15);
    await expectWeave(await put("weaveunittest", { email: a.email, password: a.password }), 15);
  });

  it("U10-7.2 step 4: strict check uses the server conversion (mixed-case e-mail still matches)", async () => {
    const a = await freshAccount();
    await expectOk(await put(a.user, { email: a.email.toUpperCase(), password: a.password }), a.user, HTML);
  });

  it("U10-7.2 step 4 REF-BUG: missing / empty / non-string e-mail → code 12, even with strict mode off", async () => {
    const loose = config({ STRICT_USERNAMES: "false" });
    for (const body of [{ password: "good password" }, { email: "", password: "good password" }, { email: 5, password: "good password" }, { email: ["a@b.com"], password: "good password" }, { email: null, password: "good password" }]) {
      await expectWeave(await put("weaveunittest_missing", body), 12);
      await expectWeave(await put("weaveunittest_missing", body, { config: loose }), 12);
    }
  });

  it("U10-7.2 step 5: password missing / empty / non-string → code 7", async () => {
    const a = await freshAccount();
    await expectWeave(await put(a.user, { email: a.email }), 7);
    await expectWeave(await put(a.user, { email: a.email, password: "" }), 7);
    await expectWeave(await put(a.user, { email: a.email, password: 12345678 }), 7);
    await expectWeave(await put(a.user, { email: a.email, password: { p: "x" } }), 7);
  });

  it("U10-7.2 step 6: weak password → code 9 (short, or equal to the username)", async () => {
    const a = await freshAccount();
    await expectWeave(await put(a.user, { email: a.email, password: "tarek2" }), 9);
    await expectWeave(await put(a.user, { email: a.email, password: ` ${a.user.toUpperCase()} ` }), 9);
    await expectOk(await call("GET", `/user/1.0/${a.user}`), "0", TEXT);
  });

  it("U10-4.2 REF-BUG: a non-ASCII password works for creation and login", async () => {
    const a = await freshAccount();
    const pw = "pässwörd-ümlaut";
    await expectOk(await put(a.user, { email: a.email, password: pw }), a.user, HTML);
    clearCredentialCache();
    await expectOk(
      await call("POST", `/user/1.0/${a.user}/email`, { body: a.email, headers: { Authorization: basic(a.user, pw) } }),
      a.email,
      TEXT,
    );
  });

  it("U10-3.3: strict mode off accepts any URL-valid name of ≤ 32 characters", async () => {
    const loose = config({ STRICT_USERNAMES: "false" });
    const name = `weaveunittest_${Date.now()}`.slice(0, 32);
    await expectOk(await put(name, { email: "unit@example.com", password: "unit test password" }, { config: loose }), name, HTML);
    await expectOk(await call("GET", `/user/1.0/${name}`), "1", TEXT);
  });

  it("U10-3.3 (decision): names longer than 32 characters → code 3 (strict mode off)", async () => {
    const loose = config({ STRICT_USERNAMES: "false" });
    await expectWeave(await put("a".repeat(33), { email: "unit@example.com", password: "unit test password" }, { config: loose }), 3);
    await expectWeave(await put("a".repeat(33), "not json", { config: loose }), 3);
  });

  it("U10-3.3: with strict mode on, a long name fails the e-mail check (15) as in the reference", async () => {
    const a = await freshAccount();
    await expectWeave(await put(`${a.user}x`, { email: a.email, password: a.password }), 15);
    await expectWeave(await put("a".repeat(40), "not json"), 6);
  });

  it("U10-7.2 step 8: REGISTRATION=closed → 503 webob text, only after validation passed", async () => {
    const closed = config({ REGISTRATION: "closed" });
    const a = await freshAccount();
    await expectWeave(await put(a.user, { email: "bad", password: a.password }, { config: closed }), 12);
    const res = await put(a.user, { email: a.email, password: a.password }, { config: closed });
    expect(res.status).toBe(503);
    expect(res.headers.get("Content-Type")).toBe(TEXT);
    expect(await res.text()).toBe(webobText(503));
    await expectOk(await call("GET", `/user/1.0/${a.user}`), "0", TEXT);
  });

  it("U10-7.2 (decision): REGISTRATION=secret needs a matching X-Weave-Secret, else the same 503", async () => {
    const secret = config({ REGISTRATION: "secret", SHARED_SECRET: "s3cret-value" });
    const a = await freshAccount();
    const body = { email: a.email, password: a.password };
    for (const headers of [{} as Record<string, string>, { "X-Weave-Secret": "wrong" }, { "X-Weave-Secret": "s3cret-valu" }, { "X-Weave-Secret": "" }]) {
      const res = await put(a.user, body, { config: secret, headers });
      expect(res.status).toBe(503);
      expect(await res.text()).toBe(webobText(503));
    }
    await expectOk(await put(a.user, body, { config: secret, headers: { "X-Weave-Secret": "s3cret-value" } }), a.user, HTML);
  });

  it("U10-7.2 step 7: REGISTRATION=open ignores X-Weave-Secret (captcha is off)", async () => {
    const open = config({ REGISTRATION: "open", SHARED_SECRET: "s3cret-value" });
    const a = await freshAccount();
    await expectOk(await put(a.user, { email: a.email, password: a.password }, { config: open, headers: { "X-Weave-Secret": "nope" } }), a.user, HTML);
  });

  it("U10-7.2: captcha fields in the body are accepted and ignored", async () => {
    const a = await freshAccount();
    await expectOk(
      await put(a.user, { email: a.email, password: a.password, "captcha-challenge": "x", "captcha-response": "y" }),
      a.user,
      HTML,
    );
  });
});

// ---------------------------------------------------------------------------
describe("U10-7.3 DELETE /user/<v>/<u>", () => {
  it("U10-7.3: deletes the row → '1', and (REF-BUG fixed) erases the user's storage", async () => {
    const a = await register();
    const { userid } = (await findAccount(env, a.user))!;
    recordWipes();
    await expectOk(await call("DELETE", `/user/1.0/${a.user}`, { headers: { Authorization: basic(a.user, a.password) } }), "1", TEXT);
    expect(wiped).toEqual([userid]);
    expect(await findAccount(env, a.user)).toBeNull();
    await expectOk(await call("GET", `/user/1.0/${a.user}`), "0", TEXT);
    // the old credentials stop working at once
    await expect401(await call("DELETE", `/user/1.0/${a.user}`, { headers: { Authorization: basic(a.user, a.password) } }));
  });

  it("U10-6 REF-BUG fixed: a re-created account never reuses the deleted userid", async () => {
    const a = await register();
    const first = (await findAccount(env, a.user))!.userid;
    recordWipes();
    await call("DELETE", `/user/1.0/${a.user}`, { headers: { Authorization: basic(a.user, a.password) } });
    await expectOk(await put(a.user, { email: a.email, password: "another good password" }), a.user, HTML);
    const second = (await findAccount(env, a.user))!.userid;
    expect(second).toBeGreaterThan(first);
    // the old password does not open the new account, even from this isolate's cache
    await expect401(await call("POST", `/user/1.0/${a.user}/email`, { body: a.email, headers: { Authorization: basic(a.user, a.password) } }));
  });

  it("U10-7.3 REF-BUG fixed: the user's stored records are really erased (UserStore.wipe)", async () => {
    const a = await register();
    const { userid } = (await findAccount(env, a.user))!;
    const auth = { Authorization: basic(a.user, a.password) };
    const routes = [...storage11Routes, ...userRoutes];
    const ctx = createExecutionContext();
    const cfg = config();
    const put = await legacyApp(routes, { config: () => cfg }).fetch(
      new Request(`${ORIGIN}/1.1/${a.user}/storage/bookmarks/abc`, { method: "PUT", body: '{"payload": "x"}', headers: auth }),
      env,
      ctx,
    );
    expect(put.status).toBe(200);
    const store = userStoreFor(env, { kind: "account", userid, username: a.user });
    expect((await store.collectionTimestamps()).collections.map((c) => c[0])).toEqual(["bookmarks"]);
    await expectOk(await call("DELETE", `/user/1.0/${a.user}`, { headers: auth }), "1", TEXT);
    expect((await store.collectionTimestamps()).collections).toEqual([]);
    expect(await findAccount(env, a.user)).toBeNull();
  });

  it("U10-7.3 (decision): storage unreachable → 503 and the account is kept, so the client can retry", async () => {
    const a = await register();
    storageWiper.wipe = async () => {
      const { StorageUnavailable } = await import("../../src/storage/stub");
      throw new StorageUnavailable(new Error("DO overloaded"));
    };
    vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await call("DELETE", `/user/1.0/${a.user}`, { headers: { Authorization: basic(a.user, a.password) } });
    expect(res.status).toBe(503);
    expect(await findAccount(env, a.user)).not.toBeNull();
  });
});

// ---------------------------------------------------------------------------
describe("U10-7.4 GET /user/<v>/<u>/node/weave", () => {
  it("U10-7.4: known user → the request's own origin + '/', text/html (REF-QUIRK), raw (not JSON); no auth", async () => {
    const a = await register();
    await expectOk(await call("GET", `/user/1.0/${a.user}/node/weave`), `${ORIGIN}/`, HTML);
    await expectOk(await call("GET", `/user/1/${a.user}/node/weave`, { headers: { Authorization: basic(a.user, "ignored!") } }), `${ORIGIN}/`, HTML);
  });

  it("U10-7.4: PUBLIC_URL overrides, normalised (https:// added, trailing slash)", async () => {
    const a = await register();
    await expectOk(
      await call("GET", `/user/1.0/${a.user}/node/weave`, { config: config({ PUBLIC_URL: "sync.example.org/base" }) }),
      "https://sync.example.org/base/",
      HTML,
    );
    await expectOk(
      await call("GET", `/user/1.0/${a.user}/node/weave`, { config: config({ PUBLIC_URL: "http://localhost:5000" }) }),
      "http://localhost:5000/",
      HTML,
    );
  });

  it("U10-7.4: unknown user → 404 webob text (plain and HTML variants)", async () => {
    const res = await call("GET", "/user/1.0/ghost/node/weave");
    expect(res.status).toBe(404);
    expect(res.headers.get("Content-Type")).toBe(TEXT);
    expect(res.headers.has("X-Weave-Timestamp")).toBe(false);
    expect(await res.text()).toBe(webobText(404));
    const html = await call("GET", "/user/1.0/ghost/node/weave", { headers: { Accept: "text/html" } });
    expect(html.headers.get("Content-Type")).toBe(HTML);
    expect(await html.text()).toContain("<h1>404 Not Found</h1>");
  });
});

// ---------------------------------------------------------------------------
describe("U10-7.5 POST /user/<v>/<u>/password", () => {
  const pw = (user: string, body: BodyInit, headers: Record<string, string> = {}) =>
    call("POST", `/user/1.0/${user}/password`, { body, headers });

  it("U10-7.5 step 6: 200 'success' text/plain; old password refused at once, new one accepted", async () => {
    const a = await register();
    await expectOk(await pw(a.user, "a brand new password", { Authorization: basic(a.user, a.password) }), "success", TEXT);
    await expect401(await call("POST", `/user/1.0/${a.user}/email`, { body: a.email, headers: { Authorization: basic(a.user, a.password) } }));
    await expectOk(
      await call("POST", `/user/1.0/${a.user}/email`, { body: a.email, headers: { Authorization: basic(a.user, "a brand new password") } }),
      a.email,
      TEXT,
    );
    expect((await findAccount(env, a.user))?.password).toMatch(/^\{PBKDF2-SHA256\}100000\$/);
  });

  it("U10-7.5 step 2: weak password → 400 webob text with the exact detail, before any authentication", async () => {
    const a = await register();
    for (const [body, headers] of [
      ["short", {}],
      ["", {}],
      [a.user, { Authorization: basic(a.user, a.password) }],
      ["short", { Authorization: basic(a.user, "wrong password") }],
      ["short", { "X-Weave-Password-Reset": "ABCD-1234-EFGH-5678" }],
    ] as const) {
      const res = await pw(a.user, body, headers);
      expect(res.status).toBe(400);
      expect(res.headers.get("Content-Type")).toBe(TEXT);
      expect(await res.text()).toBe(webobText(400, WEAK_PASSWORD_DETAIL));
    }
  });

  it("U10-7.5 step 1 REF-BUG: body not UTF-8 → 400 webob text, not 500", async () => {
    const a = await register();
    const res = await pw(a.user, new Uint8Array([0x61, 0x62, 0x63, 0x64, 0xff, 0x65, 0x66, 0x67, 0x68]), { Authorization: basic(a.user, a.password) });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/^400 Bad Request\n\n/);
  });

  it("U10-7.5 step 3: X-Weave-Password-Reset with unknown user → 404", async () => {
    const res = await pw("ghost", "a brand new password", { "X-Weave-Password-Reset": "ABCD-1234-EFGH-5678" });
    expect(res.status).toBe(404);
    expect(await res.text()).toBe(webobText(404));
  });

  it("U10-7.5 step 3 REF-BUG: no reset-code backend → code 10 (not 500); password unchanged", async () => {
    const a = await register();
    const before = (await findAccount(env, a.user))?.password;
    await expectWeave(await pw(a.user, "a brand new password", { "X-Weave-Password-Reset": "ABCD-1234-EFGH-5678" }), 10);
    expect((await findAccount(env, a.user))?.password).toBe(before);
  });

  it("U10-7.5 step 4: no Authorization → 401 WITHOUT WWW-Authenticate", async () => {
    const a = await register();
    await expect401(await pw(a.user, "a brand new password"));
  });

  it("U10-7.5 step 4: wrong password / other user / bad token → 401; password unchanged", async () => {
    const a = await register();
    const b = await register();
    const before = (await findAccount(env, a.user))?.password;
    await expect401(await pw(a.user, "a brand new password", { Authorization: basic(a.user, "wrong password") }));
    await expect401(await pw(a.user, "a brand new password", { Authorization: basic(b.user, b.password) }));
    await expect401(await pw(a.user, "a brand new password", { Authorization: "Basic %%%" }), { challenge: false, detail: "Invalid token" });
    expect((await findAccount(env, a.user))?.password).toBe(before);
  });

  it("U10-4.2 REF-BUG: changing to a non-ASCII password works", async () => {
    const a = await register();
    await expectOk(await pw(a.user, "nouveau mot de passe é", { Authorization: basic(a.user, a.password) }), "success", TEXT);
    clearCredentialCache();
    await expectOk(
      await call("POST", `/user/1.0/${a.user}/email`, { body: a.email, headers: { Authorization: basic(a.user, "nouveau mot de passe é") } }),
      a.email,
      TEXT,
    );
  });

  it("U10-7.5: the raw body is the password (no JSON, no trimming, ':' allowed)", async () => {
    const a = await register();
    const newPw = ' "quoted": with spaces ';
    await expectOk(await pw(a.user, newPw, { Authorization: basic(a.user, a.password) }), "success", TEXT);
    clearCredentialCache();
    // authenticated (so past the 401), then "no reset backend" → 503
    const ok = await call("DELETE", `/user/1.0/${a.user}/password_reset`, { headers: { Authorization: basic(a.user, newPw) } });
    expect(ok.status).toBe(503);
    await expect401(await call("DELETE", `/user/1.0/${a.user}/password_reset`, { headers: { Authorization: basic(a.user, newPw.trim()) } }));
  });
});

// ---------------------------------------------------------------------------
describe("U10-7.6 POST /user/<v>/<u>/email", () => {
  it("U10-7.6: stores the address and echoes it, text/plain", async () => {
    const a = await register();
    await expectOk(await call("POST", `/user/1.0/${a.user}/email`, { body: "Other.Address@Example.org", headers: { Authorization: basic(a.user, a.password) } }), "Other.Address@Example.org", TEXT);
    expect((await findAccount(env, a.user))?.mail).toBe("Other.Address@Example.org");
  });

  it("U10-7.6 REF-QUIRK: a single trailing newline passes and is stored", async () => {
    const a = await register();
    await expectOk(await call("POST", `/user/1.0/${a.user}/email`, { body: "x@example.org\n", headers: { Authorization: basic(a.user, a.password) } }), "x@example.org\n", TEXT);
    expect((await findAccount(env, a.user))?.mail).toBe("x@example.org\n");
  });

  it("U10-7.6: invalid address (incl. empty, JSON, non-UTF-8) → code 12, nothing stored", async () => {
    const a = await register();
    const auth = { Authorization: basic(a.user, a.password) };
    for (const body of ["nope", "", '"x@example.org"', "x@example.org\n\n", new Uint8Array([0x78, 0xff, 0x40, 0x61, 0x2e, 0x63, 0x6f])]) {
      await expectWeave(await call("POST", `/user/1.0/${a.user}/email`, { body, headers: auth }), 12);
    }
    expect((await findAccount(env, a.user))?.mail).toBe(a.email);
  });

  it("U10-7.6: Basic auth comes first (wrong password with an invalid body → 401, not 12)", async () => {
    const a = await register();
    await expect401(await call("POST", `/user/1.0/${a.user}/email`, { body: "nope", headers: { Authorization: basic(a.user, "wrong password") } }));
  });
});

// ---------------------------------------------------------------------------
describe("U10-7.7, U10-7.8, U10-10: server-full defaults (no reset backend, no captcha)", () => {
  it("U10-7.7 step 1: GET password_reset → 503 webob text (even for unknown users)", async () => {
    const a = await register();
    for (const user of [a.user, "ghost"]) {
      const res = await call("GET", `/user/1.0/${user}/password_reset?captcha-challenge=a&captcha-response=b`);
      expect(res.status).toBe(503);
      expect(res.headers.get("Content-Type")).toBe(TEXT);
      expect(res.headers.has("X-Weave-Timestamp")).toBe(false);
      expect(await res.text()).toBe(webobText(503));
    }
  });

  it("U10-7.8: DELETE password_reset → Basic auth first, then 503", async () => {
    const a = await register();
    await expect401(await call("DELETE", `/user/1/${a.user}/password_reset`), { challenge: true });
    const res = await call("DELETE", `/user/1/${a.user}/password_reset`, { headers: { Authorization: basic(a.user, a.password) } });
    expect(res.status).toBe(503);
    expect(await res.text()).toBe(webobText(503));
  });

  it("U10-10: GET/POST /misc/<v>/captcha_html → 404 'No captcha configured'", async () => {
    for (const [method, path] of [
      ["GET", "/misc/1.0/captcha_html"],
      ["POST", "/misc/1.0/captcha_html"],
      ["GET", "/misc/1/captcha_html?x=1"],
    ] as const) {
      const res = await call(method, path);
      expect(res.status).toBe(404);
      expect(res.headers.get("Content-Type")).toBe(TEXT);
      expect(await res.text()).toBe(webobText(404, "No captcha configured"));
    }
  });
});

// ---------------------------------------------------------------------------
describe("credential cache and re-hashing (src/auth/accounts.ts)", () => {
  it("a password changed by another isolate (D1 row rewritten) is refused at once despite the cache", async () => {
    const a = await register();
    const auth = { Authorization: basic(a.user, a.password) };
    await expectOk(await call("POST", `/user/1.0/${a.user}/email`, { body: a.email, headers: auth }), a.email, TEXT); // cached now
    const other = await hashPassword("changed elsewhere");
    await env.DB.prepare(`UPDATE "user" SET password = ?2 WHERE username = ?1`).bind(a.user, other).run();
    await expect401(await call("POST", `/user/1.0/${a.user}/email`, { body: a.email, headers: auth }));
    await expectOk(
      await call("POST", `/user/1.0/${a.user}/email`, { body: a.email, headers: { Authorization: basic(a.user, "changed elsewhere") } }),
      a.email,
      TEXT,
    );
  });

  it("U10-4.2: an imported {SSHA-256} account logs in and is re-hashed to PBKDF2 (old hash then gone)", async () => {
    const name = `imported${Date.now()}`.slice(0, 32);
    const ssha256 = "{SSHA-256}WoK046h4hsUFsfWZi46mM8/fnt/rKaR92eh/GSb5YrtBYkNkMTIzNA==";
    await env.DB.prepare(`INSERT INTO "user" (username, password, mail) VALUES (?1, ?2, 'i@example.com')`).bind(name, ssha256).run();
    const auth = { Authorization: basic(name, "secret passwörd") };
    await expectOk(await call("POST", `/user/1.0/${name}/email`, { body: "i@example.com", headers: auth }), "i@example.com", TEXT);
    expect((await findAccount(env, name))?.password).toMatch(/^\{PBKDF2-SHA256\}100000\$/);
    clearCredentialCache();
    await expectOk(await call("POST", `/user/1.0/${name}/email`, { body: "i@example.com", headers: auth }), "i@example.com", TEXT);
    await expect401(await call("POST", `/user/1.0/${name}/email`, { body: "i@example.com", headers: { Authorization: basic(name, "secret passwörD") } }));
  });

  it("U10-4.2: an imported {SSCRYPT} account (what server-full wrote) logs in and is re-hashed", async () => {
    const name = `importedscrypt${Date.now()}`.slice(0, 32);
    await env.DB.prepare(`INSERT INTO "user" (username, password, mail) VALUES (?1, ?2, 'i@example.com')`)
      .bind(name, "{SSCRYPT}6hqgBJfuZFzLtl17kUbhfe7z66mbubpOfdDBCAiGSrLUmEeIokqLwYs+PdnScgQcStGcGVeL2peG0YmxfOKsWVh5Wjk4NzY1")
      .run();
    await expect401(await call("POST", `/user/1.0/${name}/email`, { body: "i@example.com", headers: { Authorization: basic(name, "wrong password") } }));
    await expectOk(await call("POST", `/user/1.0/${name}/email`, { body: "i@example.com", headers: { Authorization: basic(name, "secret passwörd") } }), "i@example.com", TEXT);
    expect((await findAccount(env, name))?.password).toMatch(/^\{PBKDF2-SHA256\}100000\$/);
  }, 30_000);

  it("an imported {SSHA} account logs in too", async () => {
    const name = `importedsha1${Date.now()}`.slice(0, 32);
    await env.DB.prepare(`INSERT INTO "user" (username, password, mail) VALUES (?1, ?2, 'i@example.com')`)
      .bind(name, "{SSHA}d8/46zzbOaROJxiIvCEFd0qNik5BYkNkMTIzNA==")
      .run();
    await expectOk(await call("POST", `/user/1.0/${name}/email`, { body: "i@example.com", headers: { Authorization: basic(name, "secret passwörd") } }), "i@example.com", TEXT);
  });
});
