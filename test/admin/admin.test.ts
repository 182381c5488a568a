/**
 * The admin API (src/admin/) through the real Worker: off without
 * ADMIN_TOKEN, Bearer-only and throttled, listing and detail, disable,
 * unlock, purge, delete, and export → import round trips that keep every
 * id, payload and timestamp, with failed imports leaving the target as it was.
 */
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { userStoreFor } from "../../src/storage/stub";
import { basic, call, register, type Account } from "../helpers/sync11";
import { readReply, type Reply } from "../helpers/reply";
import { accessToken, hawkAuthorization } from "../helpers/sync15";

const TOKEN = "admin-token-for-tests-0123456789";
const ORIGIN = "http://sync.test";
const adminEnv = { ...env, ADMIN_TOKEN: TOKEN, SYNC_MASTER_SECRET: "master-secret-for-admin-tests" } as unknown as Env;

async function adminRaw(method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`${ORIGIN}${path}`, { method, headers: init.headers, body: init.body }), adminEnv, ctx);
  await waitOnExecutionContext(ctx);
  return readReply(res);
}

function admin(method: string, path: string, body?: string): Promise<Reply> {
  return adminRaw(method, path, { headers: { Authorization: `Bearer ${TOKEN}` }, body });
}

function ndjson(text: string): Array<Record<string, unknown>> {
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Imports an export text through the session endpoints, as the CLI does (chunks of `chunk` lines). */
async function importText(text: string, query = "", chunk = 3): Promise<Reply> {
  const lines = text.split("\n").filter((l) => l !== "");
  const begin = await admin("POST", `/__admin__/imports${query}`, lines.slice(0, 3).join("\n"));
  if (begin.status !== 201) return begin;
  const id = (begin.json as { session: string }).session;
  const body = lines.slice(3, -1);
  for (let i = 0; i < body.length; i += chunk) {
    const r = await admin("POST", `/__admin__/imports/${id}?line=${i + 4}`, body.slice(i, i + chunk).join("\n"));
    if (r.status !== 200) {
      await admin("DELETE", `/__admin__/imports/${id}`);
      return r;
    }
  }
  const commit = await admin("POST", `/__admin__/imports/${id}/commit`, lines.at(-1));
  if (commit.status !== 200) await admin("DELETE", `/__admin__/imports/${id}`);
  return commit;
}

async function seed(a: Account): Promise<void> {
  const put = await call(a, "POST", "/storage/bookmarks", {
    body: [
      { id: "b1", payload: "one", sortindex: 5, parentid: "p", predecessorid: "q" },
      { id: "b0", payload: "zero" },
      { id: "b2", payload: "two \u00e9\u{1F600}", ttl: 3600 },
    ],
  });
  expect(put.status).toBe(200);
  expect((await call(a, "PUT", "/storage/tabs/t1", { body: { payload: "tab" } })).status).toBe(200);
}

async function view(a: Account, username = a.username): Promise<{ info: unknown; bookmarks: string; tabs: string }> {
  const who = { ...a, username };
  const info = await call(who, "GET", "/info/collections");
  const bookmarks = await call(who, "GET", "/storage/bookmarks?full=1");
  const tabs = await call(who, "GET", "/storage/tabs?full=1");
  expect(info.status).toBe(200);
  return { info: info.json, bookmarks: bookmarks.text, tabs: tabs.text };
}

describe("admin API: access", { timeout: 30_000 }, () => {
  it("is absent (the ordinary 404) while ADMIN_TOKEN is unset", async () => {
    const res = await SELF.fetch(`${ORIGIN}/__admin__/health`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    const other = await SELF.fetch(`${ORIGIN}/__nothing_here__/health`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe(await other.text());
  });

  it("refuses requests without the Bearer token, and a user's Basic credentials or Hawk header", async () => {
    const a = await register("adm");
    expect((await adminRaw("GET", "/__admin__/health")).status).toBe(401);
    expect((await adminRaw("GET", "/__admin__/health", { headers: { Authorization: a.auth } })).status).toBe(401);
    expect((await adminRaw("GET", "/__admin__/health", { headers: { Authorization: 'Hawk id="x", ts="1", nonce="n", mac="m"' } })).status).toBe(401);
    // The user's password used as a bearer token is just a wrong token.
    expect((await adminRaw("GET", "/__admin__/health", { headers: { Authorization: `Bearer ${a.password}` } })).status).toBe(401);
    const ok = await admin("GET", "/__admin__/health");
    expect(ok.status).toBe(200);
  });

  it("throttles wrong tokens per client address (429 + Retry-After), even for the right token afterwards", async () => {
    const from = { "CF-Connecting-IP": "203.0.113.77" };
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      statuses.push((await adminRaw("GET", "/__admin__/health", { headers: { ...from, Authorization: `Bearer wrong-${i}` } })).status);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    const locked = await adminRaw("GET", "/__admin__/health", { headers: { ...from, Authorization: `Bearer ${TOKEN}` } });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("Retry-After"))).toBeGreaterThan(0);
    // Another address is not affected.
    const other = await adminRaw("GET", "/__admin__/health", { headers: { "CF-Connecting-IP": "203.0.113.78", Authorization: `Bearer ${TOKEN}` } });
    expect(other.status).toBe(200);
  });

  it("health: settings in force with secrets only as set/unset, migrations, node rows", async () => {
    const r = await admin("GET", "/__admin__/health");
    expect(r.status).toBe(200);
    expect(r.text).not.toContain(TOKEN);
    expect(r.text).not.toContain("master-secret-for-admin-tests");
    const h = r.json as {
      secrets: Record<string, string>;
      settings: { registration: string };
      sync15: { masterSecrets: string };
      d1: { ok: boolean; migrations: string[] };
      store_schema: { latest: number };
    };
    expect(h.secrets.ADMIN_TOKEN).toBe("set");
    expect(h.secrets.SYNC_MASTER_SECRET).toBe("set");
    expect(h.secrets.MAIL_API_KEY).toBe("unset");
    expect(h.sync15.masterSecrets).toBe("set");
    expect(h.settings.registration).toBe("open");
    expect(h.d1.ok).toBe(true);
    expect(h.d1.migrations.some((m) => m.startsWith("0001"))).toBe(true);
    expect(h.store_schema.latest).toBeGreaterThanOrEqual(2);
  });
});

describe("admin API: users", { timeout: 30_000 }, () => {
  it("lists accounts with usage and shows one account's collections; unknown users are a clear 404", async () => {
    const a = await register("list");
    await seed(a);
    let found: Record<string, unknown> | undefined;
    let after = 0;
    for (;;) {
      const r = await admin("GET", `/__admin__/users/1.1?limit=2&after=${after}`);
      expect(r.status).toBe(200);
      const page = r.json as { users: Array<Record<string, unknown>>; next: number | null };
      found ??= page.users.find((u) => u.username === a.username);
      if (page.next === null) break;
      after = page.next;
    }
    expect(found).toMatchObject({ name: `acct:${a.username}`, records: 4, collections: 2, disabled: false, locked: false });
    expect(found?.last_write).toEqual(expect.any(Number));

    const d = await admin("GET", `/__admin__/users/acct:${a.username}`);
    expect(d.status).toBe(200);
    const detail = d.json as { collections: Array<{ name: string; records: number; bytes: number }>; quota: { enabled: boolean } };
    expect(detail.collections.map((c) => [c.name, c.records])).toEqual([
      ["bookmarks", 3],
      ["tabs", 1],
    ]);
    expect(detail.quota.enabled).toBe(true);

    const missing = await admin("GET", "/__admin__/users/acct:nobody-here");
    expect(missing.status).toBe(404);
    expect((missing.json as { error: string }).error).toContain("unknown user acct:nobody-here");
    expect((await admin("GET", "/__admin__/users/alice")).status).toBe(400);
  });

  it("disable refuses the user's logins; enable restores them", async () => {
    const a = await register("dis");
    expect((await admin("POST", `/__admin__/users/acct:${a.username}/disable`)).status).toBe(200);
    expect((await call(a, "GET", "/info/collections")).status).toBe(401);
    expect(((await admin("GET", `/__admin__/users/acct:${a.username}`)).json as { disabled: boolean }).disabled).toBe(true);
    expect((await admin("POST", `/__admin__/users/acct:${a.username}/enable`)).status).toBe(200);
    expect((await call(a, "GET", "/info/collections")).status).toBe(200);
  });

  it("unlock clears a throttled account", async () => {
    const a = await register("lock");
    const bad = { ...a, auth: basic(a.username, "wrong password") };
    let last = 0;
    for (let i = 0; i < 8; i++) last = (await call(bad, "GET", "/info/collections")).status;
    expect(last).toBe(503);
    expect((await call(a, "GET", "/info/collections")).status).toBe(503);
    const d = (await admin("GET", `/__admin__/users/acct:${a.username}`)).json as { locked: boolean };
    expect(d.locked).toBe(true);
    const u = await admin("POST", `/__admin__/users/acct:${a.username}/unlock`);
    expect(u.status).toBe(200);
    expect((await call(a, "GET", "/info/collections")).status).toBe(200);
  });

  it("purge removes expired records now", async () => {
    const a = await register("purge");
    await call(a, "PUT", "/storage/tabs/gone", { body: { payload: "x", ttl: 1 } });
    await call(a, "PUT", "/storage/tabs/kept", { body: { payload: "y" } });
    await new Promise((r) => setTimeout(r, 2100));
    const p = await admin("POST", `/__admin__/users/acct:${a.username}/purge`);
    expect(p.json).toMatchObject({ purged: 1 });
    const d = (await admin("GET", `/__admin__/users/acct:${a.username}`)).json as { records: number };
    expect(d.records).toBe(1);
  });

  it("delete removes the data and then the account", async () => {
    const a = await register("del");
    await seed(a);
    const r = await admin("DELETE", `/__admin__/users/acct:${a.username}`);
    expect(r.json).toMatchObject({ deleted: true, records: 4 });
    expect((await admin("GET", `/__admin__/users/acct:${a.username}`)).status).toBe(404);
    expect((await call(a, "GET", "/info/collections")).status).toBe(401);
  });
});

describe("admin API: export and import", { timeout: 30_000 }, () => {
  it("exports a 1.1 user as NDJSON with a versioned header, collections, records and an end line", async () => {
    const a = await register("exp");
    await seed(a);
    const r = await admin("GET", `/__admin__/users/acct:${a.username}/export`);
    expect(r.status).toBe(200);
    expect(r.headers.get("Content-Type")).toBe("application/x-ndjson");
    const lines = ndjson(r.text);
    expect(lines[0]).toMatchObject({ format: "weave-edge-export", version: 1, kind: "1.1" });
    expect(lines[1]).toMatchObject({ type: "account", username: a.username, status: 1 });
    expect(String(lines[1]?.password)).toMatch(/^\{PBKDF2-SHA256\}/);
    expect(lines[2]).toMatchObject({ type: "store" });
    const records = lines.filter((l) => l.type === "record");
    expect(records.map((x) => x.id)).toEqual(["b1", "b0", "b2", "t1"]);
    expect(records[0]).toMatchObject({ collection: "bookmarks", payload: "one", sortindex: 5, parentid: "p", predecessorid: "q" });
    expect(records[2]?.payload).toBe("two \u00e9\u{1F600}");
    expect(records[2]?.expiry).toEqual(expect.any(Number));
    expect(lines.at(-1)).toEqual({ type: "end", collections: 2, records: 4 });
  });

  it("round-trips into a new account: same password, ids, payloads, order and timestamps", async () => {
    const a = await register("rt");
    await seed(a);
    const before = await view(a);
    const file = (await admin("GET", `/__admin__/users/acct:${a.username}/export`)).text;
    const target = `copy-${crypto.randomUUID().slice(0, 8)}`;
    const r = await importText(file, `?as=${target}`);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ records: 4, collections: 2, target: `acct:${target}` });
    const after = await view({ ...a, auth: basic(target, a.password) }, target);
    expect(after).toEqual(before);
  });

  it("refuses to overwrite a user holding records without replace, and replaces atomically with it", async () => {
    const a = await register("rep");
    await seed(a);
    const file = (await admin("GET", `/__admin__/users/acct:${a.username}/export`)).text;
    const b = await register("rep2");
    await call(b, "PUT", "/storage/forms/f", { body: { payload: "mine" } });
    const refused = await importText(file, `?as=${b.username}`);
    expect(refused.status).toBe(409);
    expect((await call(b, "GET", "/storage/forms/f")).status).toBe(200);
    const ok = await importText(file, `?as=${b.username}&replace=1`);
    expect(ok.status).toBe(200);
    expect((await call(b, "GET", "/storage/forms/f")).status).toBe(404);
    expect((await view(b)).bookmarks).toBe((await view(a)).bookmarks);
  });

  it("a bad record fails the import and leaves the target exactly as it was", async () => {
    const a = await register("bad");
    await seed(a);
    const before = await view(a);
    const file = (await admin("GET", `/__admin__/users/acct:${a.username}/export`)).text;
    const lines = file.split("\n").filter((l) => l !== "");
    // Change the data, then break one record near the end.
    const changed = lines.map((l) => l.replace('"payload":"one"', '"payload":"ONE"'));
    const idx = changed.findIndex((l) => l.includes('"id":"t1"'));
    changed[idx] = (changed[idx] as string).replace('"sortindex":null', '"sortindex":"high"');
    const r = await importText(changed.join("\n"), `?replace=1`, 2);
    expect(r.status).toBe(409);
    expect((r.json as { error: string }).error).toContain("sortindex");
    expect(await view(a)).toEqual(before);
    // Nothing left staged.
    const d = (await admin("GET", `/__admin__/users/acct:${a.username}`)).json as { store: { import_pending: boolean } };
    expect(d.store.import_pending).toBe(false);
  });

  it("a truncated file (record count differs from the end line) is refused; a created account is removed", async () => {
    const a = await register("trunc");
    await seed(a);
    const lines = (await admin("GET", `/__admin__/users/acct:${a.username}/export`)).text.split("\n").filter((l) => l !== "");
    const target = `trunc-${crypto.randomUUID().slice(0, 8)}`;
    const missing = [...lines.slice(0, -2), lines.at(-1)].join("\n");
    const r = await importText(missing, `?as=${target}`);
    expect(r.status).toBe(409);
    expect((r.json as { error: string }).error).toContain("announces 4 records but 3 arrived");
    expect((await admin("GET", `/__admin__/users/acct:${target}`)).status).toBe(404);
  });

  it("an abandoned import (never committed nor aborted) is taken over by the next one; the account ends active", async () => {
    const a = await register("aband");
    await seed(a);
    const file = (await admin("GET", `/__admin__/users/acct:${a.username}/export`)).text;
    const target = `ab-${crypto.randomUUID().slice(0, 8)}`;
    const lines = file.split("\n").filter((l) => l !== "");
    const begin = await admin("POST", `/__admin__/imports?as=${target}`, lines.slice(0, 3).join("\n"));
    expect(begin.status).toBe(201);
    // The half-imported account cannot log in meanwhile.
    expect((await call({ ...a, username: target, auth: basic(target, a.password) }, "GET", "/info/collections")).status).toBe(401);
    const again = await importText(file, `?as=${target}`);
    expect(again.status).toBe(200);
    expect(await view({ ...a, auth: basic(target, a.password) }, target)).toEqual(await view(a));
  });

  it("1.5: export and re-import after deletion keeps uid, token state, collections and timestamps", async () => {
    const email = `${crypto.randomUUID().replace(/-/g, "")}@api.accounts.firefox.com`;
    const row = await env.DB.prepare(
      `INSERT INTO users (service, email, generation, client_state, created_at, replaced_at, nodeid, keys_changed_at)
       VALUES (1, ?1, 42, 'aabbccdd', 1700000000000, NULL, 1, 1700000000000) RETURNING uid`,
    )
      .bind(email)
      .first<{ uid: number }>();
    const uid = Number(row?.uid);
    const store = userStoreFor(env, { kind: "token", uid, fxaUid: "", expired: false });
    await store.post({ collection: "history", records: [{ id: "h1", payload: "p1" }, { id: "h2", payload: "p2", sortindex: 3 }], quota: null });
    await store.put({ collection: "meta", record: { id: "global", payload: "g" }, quota: null });
    const info = await store.info({ view: "collections" });
    const hist = await store.list({ collection: "history", full: true, pageCap: 100 });

    const file = (await admin("GET", `/__admin__/users/uid:${uid}/export`)).text;
    const lines = ndjson(file);
    expect(lines[1]).toMatchObject({ type: "token_user", uid, email, generation: 42, client_state: "aabbccdd", keys_changed_at: 1700000000000 });
    expect((await admin("DELETE", `/__admin__/users/uid:${uid}`)).status).toBe(200);
    expect((await admin("GET", `/__admin__/users/uid:${uid}`)).status).toBe(404);

    const r = await importText(file);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ target: `uid:${uid}`, records: 3 });
    const d = (await admin("GET", `/__admin__/users/uid:${uid}`)).json as { token: { generation: number; client_state: string } };
    expect(d.token).toMatchObject({ generation: 42, client_state: "aabbccdd" });
    expect(await store.info({ view: "collections" })).toMatchObject({ ok: true, collections: (info as { collections: unknown }).collections });
    const again = (await store.list({ collection: "history", full: true, pageCap: 100 })) as { records: unknown };
    expect(again.records).toEqual((hist as { records: unknown }).records);
  });
});

describe("a Sync 1.1 user's own export (/weave-export)", { timeout: 30_000 }, () => {
  it("asks for Basic credentials, refuses wrong ones, and downloads the account's own data", async () => {
    const a = await register("self");
    await seed(a);
    const none = await SELF.fetch(`${ORIGIN}/weave-export`);
    expect(none.status).toBe(401);
    expect(none.headers.get("WWW-Authenticate")).toMatch(/^Basic /);
    // The body is a page in the account pages' one look (read by whoever cancels the browser's prompt).
    expect(none.headers.get("Content-Type")).toBe("text/html; charset=UTF-8");
    expect(none.headers.get("Content-Security-Policy")).toContain("style-src 'nonce-");
    const page = await none.text();
    expect(page).toContain('<header id="header"><img src="/media/weave-logo.png"');
    expect(page).toContain('<footer id="footer">');
    expect(page).toContain("<h1>Download your data</h1>");
    expect(page).not.toContain('role="alert"');
    const wrong = await SELF.fetch(`${ORIGIN}/weave-export`, { headers: { Authorization: basic(a.username, "not my password") } });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('<div class="error" role="alert">The user name (or e-mail address) and password did not match an account.</div>');
    const admin = await SELF.fetch(`${ORIGIN}/weave-export`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(admin.status).toBe(401);
    await admin.text();
    const ok = await SELF.fetch(`${ORIGIN}/weave-export`, { headers: { Authorization: a.auth } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("Content-Disposition")).toContain(`sync-${a.username}.ndjson`);
    const lines = ndjson(await ok.text());
    expect(lines[1]).toMatchObject({ type: "account", username: a.username });
    expect(lines.filter((l) => l.type === "record").map((l) => l.id)).toEqual(["b1", "b0", "b2", "t1"]);
    expect(lines.at(-1)).toEqual({ type: "end", collections: 2, records: 4 });
  });
});

describe("admin API: disabling a Sync 1.5 user (D22)", { timeout: 30_000 }, () => {
  async function tokenFor(sub: string, keyId: string): Promise<Reply> {
    const jwt = await accessToken(sub);
    return readReply(await SELF.fetch(`${ORIGIN}/1.0/sync/1.5`, { headers: { Authorization: `Bearer ${jwt}`, "X-KeyID": keyId, Accept: "application/json" } }));
  }
  async function storage(cred: { id: string; key: string }, uid: number): Promise<Reply> {
    const url = `${ORIGIN}/1.5/${uid}/info/collections`;
    return readReply(await SELF.fetch(url, { headers: { Authorization: await hawkAuthorization(cred, "GET", url) } }));
  }

  it("refuses new tokens (403 account-disabled) and a still-valid token on its very next request (401); enable restores both", async () => {
    const sub = crypto.randomUUID().replace(/-/g, "");
    const keyId = `1700000000000-${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16)))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}`;
    const first = await tokenFor(sub, keyId);
    expect(first.status).toBe(200);
    const cred = first.json as { id: string; key: string; uid: number };
    expect((await storage(cred, cred.uid)).status).toBe(200);

    const off = await admin("POST", `/__admin__/users/uid:${cred.uid}/disable`);
    expect(off.status).toBe(200);
    expect(off.json).toEqual({ name: `uid:${cred.uid}`, disabled: true });
    expect(((await admin("GET", `/__admin__/users/uid:${cred.uid}`)).json as { disabled: boolean }).disabled).toBe(true);

    // The token issued before is still valid for Hawk, but the store refuses it in the same call.
    const refused = await storage(cred, cred.uid);
    expect(refused.status).toBe(401);
    expect(refused.text).toBe("0");
    const denied = await tokenFor(sub, keyId);
    expect(denied.status).toBe(403);
    expect(denied.json).toMatchObject({ status: "account-disabled", errors: [{ location: "body", name: "" }] });

    expect((await admin("POST", `/__admin__/users/uid:${cred.uid}/enable`)).status).toBe(200);
    expect((await storage(cred, cred.uid)).status).toBe(200);
    const again = await tokenFor(sub, keyId);
    expect(again.status).toBe(200);
    expect((again.json as { uid: number }).uid).toBe(cred.uid);
  });

  it("deleting a 1.5 user refuses its still-valid token on the next request", async () => {
    const sub = crypto.randomUUID().replace(/-/g, "");
    const first = await tokenFor(sub, `1700000000000-${"A".repeat(22)}`);
    expect(first.status).toBe(200);
    const cred = first.json as { id: string; key: string; uid: number };
    expect((await storage(cred, cred.uid)).status).toBe(200);
    expect((await admin("DELETE", `/__admin__/users/uid:${cred.uid}`)).status).toBe(200);
    expect((await storage(cred, cred.uid)).status).toBe(401);
  });
});
