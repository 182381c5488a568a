import { describe, expect, it } from "vitest";
import {
  computeMac,
  normalizedString,
  parseHawkHeader,
  payloadHash,
  requestTarget,
  staleTimestampChallenge,
  verifyHawk,
  type HawkVerifyOptions,
} from "../../src/auth/hawk";
import { MemoryNonceStore } from "../../src/auth/nonce-store";
import { makeToken } from "../../src/auth/tokenlib";
import { hawkHeader, KEY, MASTER, TOKEN } from "./vectors";

const VEC_A_NORM = "hawk.1.header\n1700000100\nq8Pv1Jz0\nGET\n/1.5/42/info/collections\nsync.example.net\n443\n\n\n";
const VEC_A_MAC = "lu3E87N8sRiaby3KFMFtkbSetwOT7B76dnsAnBDRlc0=";

function req(method: string, url: string, auth: string | null, extra: Record<string, string> = {}) {
  const headers = new Headers(extra);
  if (auth !== null) headers.set("Authorization", auth);
  return { method, url, headers };
}

/** Signs a request like a Sync client (no payload hash unless given). */
async function sign(
  method: string,
  url: string,
  o: { id?: string; key?: string; ts: number; nonce: string; hash?: string; ext?: string },
): Promise<string> {
  const t = requestTarget(url, new Headers());
  const mac = await computeMac(
    o.key ?? KEY,
    normalizedString({ ts: String(o.ts), nonce: o.nonce, method, ...t, hash: o.hash, ext: o.ext }),
  );
  return hawkHeader({ id: o.id ?? TOKEN, ts: o.ts, nonce: o.nonce, mac, hash: o.hash, ext: o.ext });
}

// The HAWK-8.1 token expired at 1700003600: pin the clock before that.
const opts = (o: Partial<HawkVerifyOptions> = {}): HawkVerifyOptions => ({ secrets: [MASTER], nowSeconds: 1700000150, ...o });

describe("HAWK-8.1 vectors", () => {
  it("HAWK-8.1 vector A: normalized string and mac", async () => {
    const t = requestTarget("https://sync.example.net/1.5/42/info/collections", new Headers());
    const norm = normalizedString({ ts: "1700000100", nonce: "q8Pv1Jz0", method: "GET", ...t });
    expect(norm).toBe(VEC_A_NORM);
    expect(await computeMac(KEY, norm)).toBe(VEC_A_MAC);
  });

  it("HAWK-8.1 vector A: full header verifies", async () => {
    const h = `Hawk id="${TOKEN}", ts="1700000100", nonce="q8Pv1Jz0", mac="${VEC_A_MAC}"`;
    const r = await verifyHawk(req("GET", "https://sync.example.net/1.5/42/info/collections", h), opts());
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.token.uid).toBe(42);
      expect(r.token.fxa_uid).toBe("6a1d4c0f2e8b47a39c5d7e1f0a2b3c4d");
      expect(r.expired).toBe(false);
    }
  });

  it("HAWK-8.1 vector B: POST with query, no hash", async () => {
    const url = "https://sync.example.net/1.5/42/storage/bookmarks?batch=true";
    const t = requestTarget(url, new Headers());
    const norm = normalizedString({ ts: "1700000200", nonce: "Zm9vYmFy", method: "POST", ...t });
    expect(norm).toBe("hawk.1.header\n1700000200\nZm9vYmFy\nPOST\n/1.5/42/storage/bookmarks?batch=true\nsync.example.net\n443\n\n\n");
    expect(await computeMac(KEY, norm)).toBe("c5mEBtxATKECsLHCZqGwNA+eknhUpxDmzHlvmNfVkL4=");
    const h = hawkHeader({ id: TOKEN, ts: 1700000200, nonce: "Zm9vYmFy", mac: "c5mEBtxATKECsLHCZqGwNA+eknhUpxDmzHlvmNfVkL4=" });
    expect((await verifyHawk(req("POST", url, h), opts())).ok).toBe(true);
  });

  it("HAWK-8.1 vector C / HAWK-5: payload hash is in the MAC and verified against the body", async () => {
    const body = '[{"id":"abc","payload":"x"}]';
    const hash = await payloadHash("application/json; charset=utf-8", body);
    expect(hash).toBe("WM0xkWG+7iWWMXKW/VAroviphW+zjTOVfwOwkNEAJ24=");
    const url = "https://sync.example.net/1.5/42/storage/bookmarks?batch=true";
    const t = requestTarget(url, new Headers());
    const mac = await computeMac(KEY, normalizedString({ ts: "1700000200", nonce: "Zm9vYmFy", method: "POST", ...t, hash }));
    expect(mac).toBe("y5bH70S4LUC/8KoUH2HEYxYya4n8euiEgDOivwIG54k=");
    const h = hawkHeader({ id: TOKEN, ts: 1700000200, nonce: "Zm9vYmFy", mac, hash });
    const ct = { "Content-Type": "application/json" };
    const enc = new TextEncoder();
    expect((await verifyHawk(req("POST", url, h, ct), opts({ readBody: async () => enc.encode(body) }))).ok).toBe(true);
    // Without a body reader the hash is only MAC-covered (reference behaviour).
    expect((await verifyHawk(req("POST", url, h, ct), opts())).ok).toBe(true);
    const tampered = await verifyHawk(req("POST", url, h, ct), opts({ readBody: async () => enc.encode(body + " ") }));
    expect(tampered).toMatchObject({ ok: false, failure: "bad-payload-hash" });
  });

  it("HAWK-8.1 vector D / HAWK-3.2: http localhost:8000 with ext", async () => {
    const url = "http://localhost:8000/1.5/42/storage/history?full=1&newer=1699990000.12&limit=50";
    const t = requestTarget(url, new Headers());
    expect(t).toEqual({ resource: "/1.5/42/storage/history?full=1&newer=1699990000.12&limit=50", host: "localhost", port: 8000 });
    const norm = normalizedString({ ts: "1700000300", nonce: "bm9uY2U=", method: "GET", ...t, ext: "some-ext" });
    expect(norm).toBe(
      "hawk.1.header\n1700000300\nbm9uY2U=\nGET\n/1.5/42/storage/history?full=1&newer=1699990000.12&limit=50\nlocalhost\n8000\n\nsome-ext\n",
    );
    const mac = await computeMac(KEY, norm);
    expect(mac).toBe("4mdppzsQUrsd6CiyOMQa7q0hjTYi9Oaa+ONmpG5ZoHc=");
    const h = hawkHeader({ id: TOKEN, ts: 1700000300, nonce: "bm9uY2U=", mac, ext: "some-ext" });
    expect((await verifyHawk(req("GET", url, h), opts())).ok).toBe(true);
  });

  it("HAWK-8.1 / HAWK-7: stale-timestamp tsm", async () => {
    expect(await staleTimestampChallenge(KEY, 1700000400)).toBe(
      'Hawk ts="1700000400", tsm="oLNKHI/oFRfhpvGG8u83qMAG4xUeGxi7IMwWFnlzBDU=", error="Stale timestamp"',
    );
  });
});

describe("HAWK-8.2 reference fixture (MAC part, derived key given by the spec)", () => {
  const key = "dSi3EoZyHwgDp-O9OG1jRHtmbGl2M1bwcWsi04C4F58=";
  it("HAWK-8.2: GET /storage/1.5/1/storage/col2", async () => {
    const t = requestTarget("http://localhost:5000/storage/1.5/1/storage/col2", new Headers());
    const norm = normalizedString({ ts: "1569608439", nonce: "h1Ch4vo=", method: "GET", ...t });
    expect(await computeMac(key, norm)).toBe("UwDpC+DSrHCSTQSfMOWlueB6kM6gHb0Hsv8eU9ZcTVs=");
  });
  it("HAWK-8.2: POST with batch query", async () => {
    const t = requestTarget("http://localhost:5000/storage/1.5/1/storage/col2?batch=MTUzNjE5ODk3NjkyMQ==&commit=true", new Headers());
    const norm = normalizedString({ ts: "1569608439", nonce: "4Rj7c+0=", method: "POST", ...t });
    expect(await computeMac(key, norm)).toBe("E7j1UjN7//mh7pYXsgGi3n0KGR+sUPpuyogDVzJWaHg=");
  });
});

describe("HAWK-2 header parsing", () => {
  it("HAWK-2: absent / other scheme / malformed are distinct", () => {
    expect(parseHawkHeader(null).kind).toBe("absent");
    expect(parseHawkHeader("").kind).toBe("absent");
    expect(parseHawkHeader("Bearer abc").kind).toBe("other-scheme");
    expect(parseHawkHeader("Hawk").kind).toBe("other-scheme");
    expect(parseHawkHeader('Hawk id="a", ts="1", nonce="n"').kind).toBe("malformed");
  });
  it("HAWK-2: order is arbitrary, case-insensitive scheme, stray commas tolerated", () => {
    const p = parseHawkHeader('hawk , mac="AAAA",,ts="12",  nonce="n=+/", id="x-y_z="');
    expect(p).toEqual({ kind: "hawk", attrs: { id: "x-y_z=", ts: "12", nonce: "n=+/", mac: "AAAA" } });
  });
  it("HAWK-2: unknown, duplicate, app/dlg attributes → malformed", () => {
    expect(parseHawkHeader('Hawk id="a", ts="1", nonce="n", mac="AAAA", foo="b"').kind).toBe("malformed");
    expect(parseHawkHeader('Hawk id="a", id="b", ts="1", nonce="n", mac="AAAA"').kind).toBe("malformed");
    expect(parseHawkHeader('Hawk id="a", ts="1", nonce="n", mac="AAAA", app="x"').kind).toBe("malformed");
    expect(parseHawkHeader('Hawk id="a", ts="1", nonce="n", mac="AAAA", dlg="x"').kind).toBe("malformed");
  });
  it("HAWK-2: ts must be an integer, mac/hash base64, values quoted", () => {
    expect(parseHawkHeader('Hawk id="a", ts="1.5", nonce="n", mac="AAAA"').kind).toBe("malformed");
    expect(parseHawkHeader('Hawk id="a", ts="1", nonce="n", mac="!!"').kind).toBe("malformed");
    expect(parseHawkHeader('Hawk id="a", ts="1", nonce="n", mac="AAAA", hash="*"').kind).toBe("malformed");
    expect(parseHawkHeader('Hawk id=a, ts="1", nonce="n", mac="AAAA"').kind).toBe("malformed");
    expect(parseHawkHeader('Hawk id="a"ts="1", nonce="n", mac="AAAA"').kind).toBe("malformed");
  });
  it("HAWK-2: a large header (700-char token) parses", () => {
    const id = "A".repeat(700);
    const p = parseHawkHeader(`Hawk id="${id}", ts="1", nonce="n", mac="AAAA"`);
    expect(p.kind === "hawk" && p.attrs.id).toBe(id);
  });
});

describe("HAWK-3 request target", () => {
  it("HAWK-3.1: raw percent-encoding and parameter order are kept", () => {
    const t = requestTarget("https://h.example/1.5/1/storage/c?ids=a%2Cb&z=1&a=2", new Headers());
    expect(t.resource).toBe("/1.5/1/storage/c?ids=a%2Cb&z=1&a=2");
  });
  it("HAWK-3.1: fragment never included", () => {
    expect(requestTarget("https://h.example/1.5/1/x?a=1#frag", new Headers()).resource).toBe("/1.5/1/x?a=1");
  });
  it("HAWK-3.2: default ports, upper-case host lower-cased", () => {
    expect(requestTarget("https://SYNC.Example.NET/x", new Headers())).toMatchObject({ host: "sync.example.net", port: 443 });
    expect(requestTarget("http://sync.example.net/x", new Headers())).toMatchObject({ port: 80 });
  });
  it("HAWK-3.2: forwarded headers only when trusted", () => {
    const h = new Headers({ "X-Forwarded-Host": "Public.Example:8443", "X-Forwarded-Proto": "https" });
    expect(requestTarget("http://internal:8787/x", h)).toMatchObject({ host: "internal", port: 8787 });
    expect(requestTarget("http://internal:8787/x", h, true)).toMatchObject({ host: "public.example", port: 8443 });
    const h2 = new Headers({ Forwarded: 'for=1.2.3.4;host="pub.example";proto=https', "X-Forwarded-Host": "other" });
    expect(requestTarget("http://internal:8787/x", h2, true)).toMatchObject({ host: "pub.example", port: 443 });
    const h3 = new Headers({ "X-Forwarded-Proto": "https" });
    expect(requestTarget("http://internal/x", h3, true)).toMatchObject({ host: "internal", port: 443 });
  });
});

describe("HAWK-4 / HAWK-7 verification failures", () => {
  const url = "https://sync.example.net/1.5/42/info/collections";

  it("HAWK-7.1: missing header / other scheme → failure", async () => {
    expect(await verifyHawk(req("GET", url, null), opts())).toMatchObject({ ok: false, failure: "missing" });
    expect(await verifyHawk(req("GET", url, "Basic Zm9vOmJhcg=="), opts())).toMatchObject({ ok: false, failure: "not-hawk" });
  });

  it("HAWK-4: tampered MAC → bad-mac", async () => {
    const bad = VEC_A_MAC.replace("lu3", "lu4");
    const h = hawkHeader({ id: TOKEN, ts: 1700000100, nonce: "q8Pv1Jz0", mac: bad });
    expect(await verifyHawk(req("GET", url, h), opts())).toMatchObject({ ok: false, failure: "bad-mac" });
  });

  it("HAWK-4: MAC over another method, path, host or port → bad-mac", async () => {
    const h = hawkHeader({ id: TOKEN, ts: 1700000100, nonce: "q8Pv1Jz0", mac: VEC_A_MAC });
    for (const [m, u] of [
      ["DELETE", url],
      ["GET", "https://sync.example.net/1.5/42/info/collections?x=1"],
      ["GET", "https://other.example.net/1.5/42/info/collections"],
      ["GET", "https://sync.example.net:8443/1.5/42/info/collections"],
    ] as const) {
      expect(await verifyHawk(req(m, u, h), opts())).toMatchObject({ ok: false, failure: "bad-mac" });
    }
  });

  it("HAWK-1: wrong key (e.g. decoded bytes or another token's key) → bad-mac", async () => {
    const other = await makeToken({ uid: 42, node: "https://sync.example.net", expires: 1700003600, salt: "abcdef" }, MASTER);
    const h = await sign("GET", url, { key: other.key, ts: 1700000100, nonce: "n1" });
    expect(await verifyHawk(req("GET", url, h), opts())).toMatchObject({ ok: false, failure: "bad-mac" });
  });

  it("HAWK-7.3: token signed with another master secret → bad-token", async () => {
    expect(await verifyHawk(req("GET", url, hawkHeader({ id: TOKEN, ts: 1700000100, nonce: "q8Pv1Jz0", mac: VEC_A_MAC })), opts({ secrets: ["nope"] }))).toMatchObject({
      ok: false,
      failure: "bad-token",
    });
  });

  it("HAWK-7.3: garbage token → bad-token", async () => {
    for (const id of ["", "!!!", "YWJj", TOKEN.slice(0, -8) + "AAAAAAA="]) {
      const h = await sign("GET", url, { id, ts: 1700000100, nonce: "n" });
      expect(await verifyHawk(req("GET", url, h), opts())).toMatchObject({ ok: false, failure: "bad-token" });
    }
  });

  it("HAWK-7.4: expired token → expired, unless allowExpired (info/collections)", async () => {
    const h = await sign("GET", url, { ts: 1700003700, nonce: "n" });
    expect(await verifyHawk(req("GET", url, h), opts({ nowSeconds: 1700003700 }))).toMatchObject({ ok: false, failure: "expired" });
    // TS10-9.5: round(expires) <= now is expired (boundary).
    const h2 = await sign("GET", url, { ts: 1700003600, nonce: "n" });
    expect(await verifyHawk(req("GET", url, h2), opts({ nowSeconds: 1700003600 }))).toMatchObject({ ok: false, failure: "expired" });
    const r = await verifyHawk(req("GET", url, h), opts({ nowSeconds: 1700003700, allowExpired: true }));
    expect(r).toMatchObject({ ok: true, expired: true });
  });

  it("HAWK-6: ts outside the skew window → stale-timestamp with challenge", async () => {
    const h = await sign("GET", url, { ts: 1700000150 - 3601, nonce: "n" });
    const r = await verifyHawk(req("GET", url, h), opts());
    expect(r).toMatchObject({ ok: false, failure: "stale-timestamp" });
    if (!r.ok) expect(r.challenge).toMatch(/^Hawk ts="1700000150", tsm="[^"]+", error="Stale timestamp"$/);
    const future = await sign("GET", url, { ts: 1700000150 + 3601, nonce: "n" });
    expect(await verifyHawk(req("GET", url, future), opts())).toMatchObject({ ok: false, failure: "stale-timestamp" });
    const edge = await sign("GET", url, { ts: 1700000150 - 3600, nonce: "n" });
    expect((await verifyHawk(req("GET", url, edge), opts())).ok).toBe(true);
  });

  it("HAWK-6: skew window is never below 60 s", async () => {
    const h = await sign("GET", url, { ts: 1700000150 - 59, nonce: "n" });
    expect((await verifyHawk(req("GET", url, h), opts({ skewSeconds: 1 }))).ok).toBe(true);
  });

  it("HAWK-6: replayed nonce → replayed-nonce (only when a store is configured)", async () => {
    const store = new MemoryNonceStore();
    const h = await sign("GET", url, { ts: 1700000100, nonce: "once" });
    expect((await verifyHawk(req("GET", url, h), opts({ nonceStore: store }))).ok).toBe(true);
    expect(await verifyHawk(req("GET", url, h), opts({ nonceStore: store }))).toMatchObject({ ok: false, failure: "replayed-nonce" });
    // Reference behaviour without a store: replays accepted.
    expect((await verifyHawk(req("GET", url, h), opts())).ok).toBe(true);
    // A bad MAC never poisons the store.
    const store2 = new MemoryNonceStore();
    const bad = hawkHeader({ id: TOKEN, ts: 1700000100, nonce: "p", mac: VEC_A_MAC });
    await verifyHawk(req("GET", url, bad), opts({ nonceStore: store2 }));
    expect(store2.size).toBe(0);
  });

  it("HAWK-6: nonce memory expires after the window", async () => {
    const store = new MemoryNonceStore();
    expect(await store.checkAndRemember("s", "n", 100, 10, 100)).toBe(true);
    expect(await store.checkAndRemember("s", "n", 100, 10, 105)).toBe(false);
    expect(await store.checkAndRemember("t", "n", 100, 10, 105)).toBe(true);
    expect(await store.checkAndRemember("s", "n", 100, 10, 111)).toBe(true);
  });

  it("TS10-9.5 / TS10-9.2: Python-style token with float expires verifies", async () => {
    const pyToken =
      "eyJ1aWQiOiA3LCAibm9kZSI6ICJodHRwOi8vbG9jYWxob3N0OjgwMDAiLCAiZXhwaXJlcyI6IDE3MDAwMDAzMDAuNSwgInNhbHQiOiAiMGEwYjBjIn3E-h_PY98Vb0pPaCiGNiGuf2fqGqJumOrM9xB5K6pfnw==";
    const u = "http://localhost:8000/1.5/7/info/collections";
    const h = await sign("GET", u, { id: pyToken, key: "Ln4d7twWmkT1_PLfv-m7hT0uvUpyzTseRhYf3peZpLU=", ts: 1700000100, nonce: "x" });
    const r = await verifyHawk(req("GET", u, h), opts({ nowSeconds: 1700000100 }));
    expect(r).toMatchObject({ ok: true, token: { uid: 7, expires: 1700000300.5 } });
  });
});

describe("verified-token cache", () => {
  it("HAWK-1 / TS10-9.1: a cached token stops verifying once its secret is removed (rotation)", async () => {
    const url = "https://sync.example.net/1.5/42/info/collections";
    const auth1 = await sign("GET", url, { ts: 1700000150, nonce: "cache-1" });
    expect((await verifyHawk(req("GET", url, auth1), opts())).ok).toBe(true);
    // Same token again: served from the cache, still fully MAC-checked.
    const auth2 = await sign("GET", url, { ts: 1700000150, nonce: "cache-2" });
    expect((await verifyHawk(req("GET", url, auth2), opts())).ok).toBe(true);
    const wrongMac = auth2.replace(/mac="[^"]+"/, 'mac="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="');
    expect((await verifyHawk(req("GET", url, wrongMac), opts())).ok).toBe(false);
    const auth3 = await sign("GET", url, { ts: 1700000150, nonce: "cache-3" });
    expect(await verifyHawk(req("GET", url, auth3), opts({ secrets: ["another-secret"] }))).toMatchObject({ ok: false });
  });

  it("HAWK-7 step 4: a cached token is still refused once it has expired", async () => {
    const url = "https://sync.example.net/1.5/42/storage/bookmarks";
    const a = await sign("GET", url, { ts: 1700000150, nonce: "exp-1" });
    expect((await verifyHawk(req("GET", url, a), opts())).ok).toBe(true);
    const b = await sign("GET", url, { ts: 1700003700, nonce: "exp-2" });
    expect((await verifyHawk(req("GET", url, b), opts({ nowSeconds: 1700003700 }))).ok).toBe(false);
  });
});
