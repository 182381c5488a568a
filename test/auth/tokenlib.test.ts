import { describe, expect, it } from "vitest";
import { toHex } from "../../src/auth/encoding";
import { deriveHawkKey, encodeToken, isExpired, legacyNodeSecret, makeToken, parseToken, signingKeyBytes } from "../../src/auth/tokenlib";
import { formatFxaKid, hashedDeviceId, hashedFxaUid, parseKeyId } from "../../src/tokenserver/derive";
import { KEY, MASTER, METRICS, TOKEN } from "./vectors";

const PAYLOAD_JSON =
  '{"node":"https://sync.example.net","fxa_kid":"1700000000123-1Ho8G7L24KlcgfPip7bF1A","fxa_uid":"6a1d4c0f2e8b47a39c5d7e1f0a2b3c4d","hashed_device_id":"a7248b9785510adce7b7742158347f4b","hashed_fxa_uid":"6dfb24b55b58705635d69b82f06d04a4","expires":1700003600,"uid":42,"tokenserver_origin":"rust","salt":"5e3a9c"}';

describe("TS10-12 worked example", () => {
  it("TS10-12 / TS10-9.1: signing key", async () => {
    expect(toHex(await signingKeyBytes(MASTER))).toBe("42b0f7518e2b240a9886868e27d4f861c8770a585fe8f0b63550dcc135baa204");
  });
  it("TS10-12 / TS10-5: hashed_fxa_uid and hashed_device_id", async () => {
    const h = await hashedFxaUid(METRICS, "6a1d4c0f2e8b47a39c5d7e1f0a2b3c4d");
    expect(h).toBe("6dfb24b55b58705635d69b82f06d04a4");
    expect(await hashedDeviceId(METRICS, h)).toBe("a7248b9785510adce7b7742158347f4b");
  });
  it("TS10-12 / TS10-3.2: X-KeyID → client_state and fxa_kid", () => {
    const k = parseKeyId("1700000000123-1Ho8G7L24KlcgfPip7bF1A");
    expect(k).toEqual({ kind: "ok", keysChangedAt: 1700000000123, clientState: "d47a3c1bb2f6e0a95c81f3e2a7b6c5d4" });
    expect(formatFxaKid(1700000000123, "d47a3c1bb2f6e0a95c81f3e2a7b6c5d4")).toBe("1700000000123-1Ho8G7L24KlcgfPip7bF1A");
  });
  it("TS10-12 / TS10-9.3: token bytes from the payload JSON", async () => {
    expect(await encodeToken(PAYLOAD_JSON, MASTER)).toBe(TOKEN);
  });
  it("TS10-12 / TS10-9.2: makeToken in reference field order gives the same token and key", async () => {
    const r = await makeToken(JSON.parse(PAYLOAD_JSON), MASTER);
    expect(r).toEqual({ token: TOKEN, key: KEY });
  });
  it("TS10-12 / TS10-9.4: derived Hawk key", async () => {
    expect(await deriveHawkKey(TOKEN, "5e3a9c", MASTER)).toBe(KEY);
  });
  it("TS10-12: fxa_kid cross-checks", () => {
    expect(formatFxaKid(1234, "aaaa")).toBe("0000000001234-qqo");
    expect(formatFxaKid(1234, "bbbb")).toBe("0000000001234-u7s");
  });
  it("TS10-12 / TS10-5: hashes with an empty metrics secret", async () => {
    const h = await hashedFxaUid("", "test123");
    expect(h).toBe("4d00ecae64b98dd7dc7dea68d0dd615d");
    expect(await hashedDeviceId("", h)).toBe("3a41cccbdd666ebc4199f1f9d1249d44");
  });
  it("TS10-12 / TS10-9.2: Python-style token (spaces, float expires)", async () => {
    const json = '{"uid": 7, "node": "http://localhost:8000", "expires": 1700000300.5, "salt": "0a0b0c"}';
    const tok = await encodeToken(json, MASTER);
    expect(tok).toBe(
      "eyJ1aWQiOiA3LCAibm9kZSI6ICJodHRwOi8vbG9jYWxob3N0OjgwMDAiLCAiZXhwaXJlcyI6IDE3MDAwMDAzMDAuNSwgInNhbHQiOiAiMGEwYjBjIn3E-h_PY98Vb0pPaCiGNiGuf2fqGqJumOrM9xB5K6pfnw==",
    );
    expect(await deriveHawkKey(tok, "0a0b0c", MASTER)).toBe("Ln4d7twWmkT1_PLfv-m7hT0uvUpyzTseRhYf3peZpLU=");
  });
  it("TS10-12 / TS10-9.1: legacy per-node secret", async () => {
    expect(await legacyNodeSecret("0123456789abcdef0123456789abcdef", "https://sync.example.net")).toBe("bfe6676bb8b4cc7ccca57aab65b8c172");
  });
});

describe("TS10-9.5 token verification", () => {
  it("TS10-9.5.1: accepts the token without padding", async () => {
    const r = await parseToken(TOKEN.replace(/=+$/, ""), [MASTER]);
    expect(r.ok).toBe(true);
  });
  it("TS10-9.5.1: too short / bad base64", async () => {
    expect(await parseToken("AAAA", [MASTER])).toEqual({ ok: false, reason: "too-short" });
    expect(await parseToken("a*b", [MASTER])).toEqual({ ok: false, reason: "bad-encoding" });
  });
  it("TS10-9.5.2: tampered payload or signature → bad-signature", async () => {
    const flipped = (TOKEN[10] === "A" ? "B" : "A");
    expect(await parseToken(TOKEN.slice(0, 10) + flipped + TOKEN.slice(11), [MASTER])).toMatchObject({ ok: false });
    expect(await parseToken(TOKEN, ["another-secret"])).toEqual({ ok: false, reason: "bad-signature" });
  });
  it("TS10-9.1: rotation — any listed secret verifies, and reports which", async () => {
    const r = await parseToken(TOKEN, ["new-secret", MASTER]);
    expect(r).toMatchObject({ ok: true, secret: MASTER, payload: { uid: 42, salt: "5e3a9c" } });
  });
  it("TS10-9.5.3: required fields and types", async () => {
    for (const json of [
      '{"node":"n","expires":1,"salt":"s"}',
      '{"uid":-1,"node":"n","expires":1,"salt":"s"}',
      '{"uid":1.5,"node":"n","expires":1,"salt":"s"}',
      '{"uid":1,"expires":1,"salt":"s"}',
      '{"uid":1,"node":"n","salt":"s"}',
      '{"uid":1,"node":"n","expires":1}',
      '{"uid":1,"node":"n","expires":1,"salt":"s","fxa_uid":5}',
      "[1]",
      "not json",
    ]) {
      const r = await parseToken(await encodeToken(json, MASTER), [MASTER]);
      expect(r, json).toEqual({ ok: false, reason: "bad-payload" });
    }
    const ok = await parseToken(await encodeToken('{"uid":0,"node":"n","expires":1,"salt":"s","extra":[1]}', MASTER), [MASTER]);
    expect(ok.ok).toBe(true);
  });
  it("TS10-9.5.4: expired iff round(expires) <= now", () => {
    const p = { uid: 1, node: "n", salt: "s" };
    expect(isExpired({ ...p, expires: 100 }, 99)).toBe(false);
    expect(isExpired({ ...p, expires: 100 }, 100)).toBe(true);
    expect(isExpired({ ...p, expires: 100.4 }, 100)).toBe(true);
    expect(isExpired({ ...p, expires: 100.5 }, 100)).toBe(false);
  });
});

describe("TS10-3.2 X-KeyID parsing", () => {
  it("TS10-3.2: split at the first dash; right part may contain dashes", () => {
    expect(parseKeyId("1234-qqo")).toEqual({ kind: "ok", keysChangedAt: 1234, clientState: "aaaa" });
    // "-_8" decodes to 0xfb 0xff; the right part keeps its own "-".
    expect(parseKeyId("5--_8")).toEqual({ kind: "ok", keysChangedAt: 5, clientState: "fbff" });
  });
  it("TS10-3.2: keys_changed_at 0 is absent", () => {
    expect(parseKeyId("0-qqo")).toEqual({ kind: "ok", keysChangedAt: null, clientState: "aaaa" });
  });
  it("TS10-3.2: missing vs malformed", () => {
    expect(parseKeyId(null).kind).toBe("missing");
    for (const v of ["1234", "abc-qqo", "-qqo", "12-q*o", "12-qqo=", "1.5-qqo", "12-q"]) expect(parseKeyId(v).kind, v).toBe("malformed");
  });
});
