import { env } from "cloudflare:test";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { computeMac, normalizedString, payloadHash, requestTarget } from "../../src/auth/hawk";
import { hawkAuth, type HawkAuthOptions } from "../../src/auth/hawk-middleware";
import { MemoryNonceStore } from "../../src/auth/nonce-store";
import { makeToken, randomSalt } from "../../src/auth/tokenlib";
import type { AppEnv } from "../../src/env";
import { hawkHeader, KEY, MASTER, TOKEN } from "./vectors";

const NOW = 1700000150; // before the HAWK-8.1 token's expiry (1700003600)

function makeApp(opts: HawkAuthOptions = {}) {
  const app = new Hono<AppEnv>();
  const mw = hawkAuth({ nowSeconds: () => NOW, nonceStore: new MemoryNonceStore(), ...opts });
  app.use("/1.5/:uid/*", mw);
  app.use("/storage/1.5/:uid/*", mw);
  app.get("/1.5/:uid/info/collections", (c) => c.json(c.var.principal));
  app.get("/1.5/:uid/storage/:collection", (c) => c.json(c.var.principal));
  app.get("/storage/1.5/:uid/storage/:collection", (c) => c.json(c.var.principal));
  app.post("/1.5/:uid/storage/:collection", async (c) => c.json({ principal: c.var.principal, body: await c.req.json() }));
  return app;
}

const vars = (extra: Record<string, string> = {}) => ({ ...env, SYNC_MASTER_SECRET: MASTER, ...extra });

async function signed(
  method: string,
  url: string,
  o: { id?: string; key?: string; ts?: number; nonce?: string; body?: string; withHash?: boolean } = {},
): Promise<RequestInit> {
  const t = requestTarget(url, new Headers());
  const headers = new Headers();
  let hash: string | undefined;
  if (o.body !== undefined) headers.set("Content-Type", "application/json");
  if (o.withHash) hash = await payloadHash("application/json", o.body ?? "");
  const ts = o.ts ?? NOW;
  const nonce = o.nonce ?? crypto.randomUUID();
  const mac = await computeMac(o.key ?? KEY, normalizedString({ ts: String(ts), nonce, method, ...t, hash }));
  headers.set("Authorization", hawkHeader({ id: o.id ?? TOKEN, ts, nonce, mac, hash }));
  return { method, headers, body: o.body };
}

async function expectZero(res: Response, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/json");
  expect(await res.text()).toBe("0");
  expect(res.headers.get("x-weave-timestamp")).toMatch(/^\d+\.\d{2}$/);
}

describe("S15-3 Hawk middleware", () => {
  it("HAWK-8.1 vector A through the middleware: principal set", async () => {
    const url = "https://sync.example.net/1.5/42/info/collections";
    const h = `Hawk id="${TOKEN}", ts="1700000100", nonce="q8Pv1Jz0", mac="lu3E87N8sRiaby3KFMFtkbSetwOT7B76dnsAnBDRlc0="`;
    const res = await makeApp().request(url, { headers: { Authorization: h } }, vars());
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      kind: "token",
      uid: 42,
      fxaUid: "6a1d4c0f2e8b47a39c5d7e1f0a2b3c4d",
      expired: false,
    });
  });

  it("HAWK-7.1 / S15-3.1: missing or non-Hawk Authorization → 401 body 0", async () => {
    const url = "https://sync.example.net/1.5/42/storage/bookmarks";
    const res = await makeApp().request(url, {}, vars());
    await expectZero(res, 401);
    expect(res.headers.get("www-authenticate")).toBe("Hawk");
    await expectZero(await makeApp().request(url, { headers: { Authorization: "Bearer x" } }, vars()), 401);
  });

  it("HAWK-4: tampered MAC → 401 body 0", async () => {
    const url = "https://sync.example.net/1.5/42/storage/bookmarks";
    const init = await signed("GET", url);
    const h = new Headers(init.headers);
    // change the MAC's first character to a different one (always a change, whatever the MAC starts with)
    h.set("Authorization", (h.get("Authorization") ?? "").replace(/mac="(.)/, (_m, c: string) => `mac="${c === "A" ? "B" : "A"}`));
    await expectZero(await makeApp().request(url, { headers: h }, vars()), 401);
  });

  it("HAWK-4: request to another path than signed → 401", async () => {
    const init = await signed("GET", "https://sync.example.net/1.5/42/storage/bookmarks");
    await expectZero(await makeApp().request("https://sync.example.net/1.5/42/storage/history", init, vars()), 401);
  });

  it("HAWK-7.3: wrong master secret → 401", async () => {
    const url = "https://sync.example.net/1.5/42/storage/bookmarks";
    await expectZero(await makeApp().request(url, await signed("GET", url), vars({ SYNC_MASTER_SECRET: "other" })), 401);
  });

  it("TS10-9.1: SYNC_MASTER_SECRET_PREVIOUS still verifies during rotation", async () => {
    const url = "https://sync.example.net/1.5/42/storage/bookmarks";
    const res = await makeApp().request(url, await signed("GET", url), vars({ SYNC_MASTER_SECRET: "new-one", SYNC_MASTER_SECRET_PREVIOUS: MASTER }));
    expect(res.status).toBe(200);
  });

  it("S15-3.3: expired token accepted only on GET info/collections", async () => {
    const later = () => 1700003660; // expired 60 s ago, as in the reference test
    const app = makeApp({ nowSeconds: later });
    const ic = "https://sync.example.net/1.5/42/info/collections";
    const res = await app.request(ic, await signed("GET", ic, { ts: 1700003660 }), vars());
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ uid: 42, expired: true });
    const col = "https://sync.example.net/1.5/42/storage/bookmarks";
    await expectZero(await app.request(col, await signed("GET", col, { ts: 1700003660 }), vars()), 401);
    await expectZero(await app.request(col, await signed("POST", col, { ts: 1700003660, body: "[]" }), vars()), 401);
  });

  it("S15-3.4 / HAWK-7.7: token uid ≠ path uid → 400 body 0", async () => {
    const url = "https://sync.example.net/1.5/43/storage/bookmarks";
    await expectZero(await makeApp().request(url, await signed("GET", url), vars()), 400);
  });

  it("S15-1: other path prefixes (/storage/1.5/{uid}) verify over the full path", async () => {
    const { token, key } = await makeToken({ uid: 1, node: "http://localhost:5000", expires: NOW + 300, salt: randomSalt() }, MASTER);
    const url = "http://localhost:5000/storage/1.5/1/storage/col2";
    const res = await makeApp().request(url, await signed("GET", url, { id: token, key }), vars());
    expect(res.status).toBe(200);
  });

  it("HAWK-6: replayed nonce → 401", async () => {
    const app = makeApp();
    const url = "https://sync.example.net/1.5/42/storage/bookmarks";
    const init = await signed("GET", url, { nonce: "fixed" });
    expect((await app.request(url, init, vars())).status).toBe(200);
    await expectZero(await app.request(url, init, vars()), 401);
  });

  it("HAWK-6: HAWK_NONCE_CHECK=false accepts replays (reference behaviour)", async () => {
    const app = new Hono<AppEnv>();
    app.use("/1.5/:uid/*", hawkAuth({ nowSeconds: () => NOW }));
    app.get("/1.5/:uid/storage/:c", (c) => c.text("ok"));
    const url = "https://sync.example.net/1.5/42/storage/bookmarks";
    const init = await signed("GET", url, { nonce: "replay-me" });
    const v = vars({ HAWK_NONCE_CHECK: "false" });
    expect((await app.request(url, init, v)).status).toBe(200);
    expect((await app.request(url, init, v)).status).toBe(200);
  });

  it("HAWK-6 / HAWK-7: ts outside the window → 401 with stale-timestamp challenge", async () => {
    const url = "https://sync.example.net/1.5/42/storage/bookmarks";
    const res = await makeApp().request(url, await signed("GET", url, { ts: NOW - 7200 }), vars());
    await expectZero(res, 401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Hawk ts="1700000150", tsm="[A-Za-z0-9+/=]+", error="Stale timestamp"$/);
    // HAWK_SKEW_SECONDS widens it.
    const ok = await makeApp().request(url, await signed("GET", url, { ts: NOW - 7200 }), vars({ HAWK_SKEW_SECONDS: "86400" }));
    expect(ok.status).toBe(200);
  });

  it("HAWK-5: payload hash is verified against the body, which the handler can still read", async () => {
    const url = "https://sync.example.net/1.5/42/storage/bookmarks";
    const body = '[{"id":"abc","payload":"x"}]';
    const good = await makeApp().request(url, await signed("POST", url, { body, withHash: true }), vars());
    expect(good.status).toBe(200);
    expect(await good.json()).toMatchObject({ body: [{ id: "abc", payload: "x" }] });
    const init = await signed("POST", url, { body, withHash: true });
    await expectZero(await makeApp().request(url, { ...init, body: body.replace("x", "y") }, vars()), 401);
    // Without hash, the body is not read by the middleware.
    expect((await makeApp().request(url, await signed("POST", url, { body }), vars())).status).toBe(200);
  });
});
