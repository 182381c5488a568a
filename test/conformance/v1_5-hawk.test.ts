/**
 * Storage 1.5 behind the real Hawk middleware (S15-3, docs/protocol/hawk.md):
 * tokens minted with tokenlib, requests signed like a client signs them.
 */
import { env } from "cloudflare:test";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { computeMac, normalizedString, requestTarget } from "../../src/auth/hawk";
import { hawkAuth } from "../../src/auth/hawk-middleware";
import { makeToken, randomSalt } from "../../src/auth/tokenlib";
import type { AppEnv } from "../../src/env";
import { storage15Routes } from "../../src/routes/storage-1.5";
import { hawkHeader } from "../auth/vectors";

const MASTER = "storage-15-test-master-secret";
const vars = { ...env, SYNC_MASTER_SECRET: MASTER };
const app = new Hono<AppEnv>().route("/", storage15Routes(hawkAuth()));

async function tokenFor(uid: number, expiresIn = 300) {
  return makeToken({ uid, node: "http://sync.test", expires: Math.floor(Date.now() / 1000) + expiresIn, salt: randomSalt(), fxa_uid: "f".repeat(32) }, MASTER);
}

async function call(cred: { token: string; key: string }, method: string, url: string, body?: string) {
  const ts = Math.floor(Date.now() / 1000);
  const nonce = crypto.randomUUID();
  const mac = await computeMac(cred.key, normalizedString({ ts: String(ts), nonce, method, ...requestTarget(url, new Headers()) }));
  const headers: Record<string, string> = { Authorization: hawkHeader({ id: cred.token, ts, nonce, mac }) };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return app.request(url, { method, headers, body }, vars);
}

describe("S15-3 with Hawk", () => {
  it("S15-3: a signed PUT then GET round-trips", async () => {
    const uid = 700000 + Math.floor(Math.random() * 100000);
    const cred = await tokenFor(uid);
    const base = `http://sync.test/1.5/${uid}`;
    const put = await call(cred, "PUT", `${base}/storage/meta/global`, JSON.stringify({ payload: "hello" }));
    expect(put.status).toBe(200);
    const get = await call(cred, "GET", `${base}/storage/meta/global`);
    expect(get.status).toBe(200);
    expect(((await get.json()) as { payload: string }).payload).toBe("hello");
  });
  it("S15-3: an expired token reads info/collections and nothing else", async () => {
    const uid = 800000 + Math.floor(Math.random() * 100000);
    const cred = await tokenFor(uid, -60);
    const base = `http://sync.test/1.5/${uid}`;
    expect((await call(cred, "GET", `${base}/info/collections`)).status).toBe(200);
    expect((await call(cred, "GET", `${base}/storage/col`)).status).toBe(401);
    expect((await call(cred, "POST", `${base}/storage/col`, "[]")).status).toBe(401);
  });
  it("S15-3: another uid's token → 400 body 0; no signature → 401 body 0", async () => {
    const cred = await tokenFor(1234);
    const r = await call(cred, "GET", "http://sync.test/1.5/1235/info/collections");
    expect(r.status).toBe(400);
    expect(await r.text()).toBe("0");
    const none = await app.request("http://sync.test/1.5/1234/info/collections", {}, vars);
    expect(none.status).toBe(401);
    expect(await none.text()).toBe("0");
  });
  it("S15-3: 404 and 405 come before authentication", async () => {
    expect((await app.request("http://sync.test/1.5/1234/nope", {}, vars)).status).toBe(404);
    expect((await app.request("http://sync.test/1.5/1234/storage/col", { method: "PATCH" }, vars)).status).toBe(405);
  });
});

describe("S15-3 production mount", () => {
  it("S15-3: storage15App requires Hawk", async () => {
    const { storage15App } = await import("../../src/routes/storage-1.5");
    const r = await new Hono<AppEnv>().route("/", storage15App).request("http://sync.test/1.5/5/info/collections", {}, vars);
    expect(r.status).toBe(401);
    expect(await r.text()).toBe("0");
  });
});
