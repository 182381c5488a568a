/**
 * Issue 11 item 1 (Storage 1.5 per-request work): a client reuses one token
 * for every request of its hour, so after the first request the token's
 * signature check, HKDF and key import are served from the per-isolate cache
 * (src/auth/hawk.ts). Observed by counting WebCrypto calls: a second request
 * with the same token imports no key, derives nothing and signs nothing
 * (the request MAC itself is computed synchronously with node:crypto).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { computeMac, normalizedString, requestTarget, verifyHawk } from "../../src/auth/hawk";
import { makeToken } from "../../src/auth/tokenlib";
import { hawkHeader } from "./vectors";

const SECRET = "hawk-token-cache-secret";

async function signed(url: string, token: string, key: string, nonce: string, ts: number) {
  const t = requestTarget(url, new Headers());
  const mac = await computeMac(key, normalizedString({ ts: String(ts), nonce, method: "GET", ...t }));
  return { method: "GET", url, headers: new Headers({ Authorization: hawkHeader({ id: token, ts, nonce, mac }) }) };
}

afterEach(() => vi.restoreAllMocks());

describe("Hawk token cache", () => {
  it("a second request with the same token does no token crypto beyond the request MAC", async () => {
    const now = Math.floor(Date.now() / 1000);
    const { token, key } = await makeToken(
      { node: "https://sync.test", fxa_kid: "0000000000001-qqqqqqqqqqqqqqqqqqqqqg", fxa_uid: "f".repeat(32), hashed_device_id: "d", hashed_fxa_uid: "h", expires: now + 3600, uid: 77, tokenserver_origin: "rust", salt: "abcdef" },
      SECRET,
    );
    const url = "https://sync.test/1.5/77/info/collections";
    const first = await signed(url, token, key, "n1", now);
    const second = await signed(url, token, key, "n2", now);
    const subtle = crypto.subtle;
    const importKey = vi.spyOn(subtle, "importKey");
    const sign = vi.spyOn(subtle, "sign");
    const deriveBits = vi.spyOn(subtle, "deriveBits");

    expect((await verifyHawk(first, { secrets: [SECRET], nowSeconds: now })).ok).toBe(true);
    expect(importKey.mock.calls.length).toBeGreaterThan(0); // first sight: token check, HKDF, key import

    importKey.mockClear();
    sign.mockClear();
    deriveBits.mockClear();
    const r = await verifyHawk(second, { secrets: [SECRET], nowSeconds: now });
    expect(r.ok).toBe(true);
    expect(importKey).not.toHaveBeenCalled();
    expect(deriveBits).not.toHaveBeenCalled();
    expect(sign).not.toHaveBeenCalled(); // the request MAC: node:crypto, not WebCrypto
  });
});
