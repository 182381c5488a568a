/** S11-8.1 to S11-8.4: info/collections, info/collection_counts, info/quota, info/collection_usage. */
import { describe, expect, it } from "vitest";
import { call, dispatchWith, expectOk, register } from "./_helpers";

describe("info", () => {
  it("S11-8.1: info/collections → {name: max modified} as 2-decimal number tokens, X-Weave-Records = number of collections", async () => {
    const a = await register("info");
    const empty = await call(a, "GET", "/info/collections");
    expectOk(empty, "{}");
    expect(empty.headers.get("X-Weave-Records")).toBe("0");
    const r1 = await call(a, "PUT", "/storage/col1/a", { body: { payload: "x" } });
    const r2 = await call(a, "POST", "/storage/col2", { body: [{ id: "b", payload: "yy" }, { id: "c", payload: "z" }] });
    const t2 = r2.headers.get("X-Weave-Timestamp");
    const r = await call(a, "GET", "/info/collections");
    expectOk(r);
    expect(r.headers.get("X-Weave-Records")).toBe("2");
    expect([`{"col1": ${r1.text}, "col2": ${t2}}`, `{"col2": ${t2}, "col1": ${r1.text}}`]).toContain(r.text);
  });

  it("S11-8.1: a GET of an unknown collection does not make it appear; empty collections are absent", async () => {
    const a = await register("info-absent");
    await call(a, "GET", "/storage/ghost");
    await call(a, "GET", "/storage/ghost/x");
    await call(a, "PUT", "/storage/gone/x", { body: { payload: "x" } });
    await call(a, "DELETE", "/storage/gone/x");
    expect((await call(a, "GET", "/info/collections")).text).toBe("{}");
    expect((await call(a, "GET", "/info/collection_counts")).text).toBe("{}");
    expect((await call(a, "GET", "/info/collection_usage")).text).toBe("{}");
  });

  it("S11-8.1 / S11-5.3: collection names are any [a-zA-Z0-9._-]+, including __proto__ and constructor", async () => {
    const a = await register("info-names");
    const p = await call(a, "PUT", "/storage/__proto__/x", { body: { payload: "abc" } });
    expectOk(p);
    const c = await call(a, "PUT", "/storage/constructor/y", { body: { payload: "d" } });
    const info = await call(a, "GET", "/info/collections");
    expect(info.headers.get("X-Weave-Records")).toBe("2");
    expect(info.text).toBe(`{"__proto__": ${p.text}, "constructor": ${c.text}}`);
    expect((await call(a, "GET", "/info/collection_counts")).text).toBe('{"__proto__": 1, "constructor": 1}');
    expect((await call(a, "GET", "/info/collection_usage")).text).toBe('{"__proto__": 0.0029296875, "constructor": 0.0009765625}');
  });

  it("S11-8.1: any query parameters are accepted (client metrics markers)", async () => {
    const a = await register("info-q");
    expectOk(await call(a, "GET", "/info/collections?client=FxHome&v=1.1b2"), "{}");
  });

  it("S11-8.2: info/collection_counts → {name: count of live records}; X-Weave-Records", async () => {
    const a = await register("info-counts");
    await call(a, "POST", "/storage/a", { body: [{ id: "1" }, { id: "2", payload: "" }, { id: "3", payload: "x" }] });
    await call(a, "PUT", "/storage/b/1", { body: { payload: "y", ttl: 0 } });
    const r = await call(a, "GET", "/info/collection_counts");
    expectOk(r, '{"a": 3}');
    expect(r.headers.get("X-Weave-Records")).toBe("1");
  });

  it("S11-8.3: info/quota → [used KB float, quota int]; empty account [0.0, 5120]", async () => {
    const a = await register("info-quota");
    const e = await call(a, "GET", "/info/quota");
    expectOk(e, "[0.0, 5120]");
    expect(e.headers.get("X-Weave-Records")).toBeNull();
    await call(a, "PUT", "/storage/c/1", { body: { payload: "x".repeat(24) } });
    expect((await call(a, "GET", "/info/quota")).text).toBe("[0.0234375, 5120]");
    await call(a, "PUT", "/storage/c/2", { body: { payload: "y".repeat(1024) } });
    expect((await call(a, "GET", "/info/quota")).text).toBe("[1.0234375, 5120]");
    await call(a, "DELETE", "/storage/c/1");
    expect((await call(a, "GET", "/info/quota")).text).toBe("[1.0, 5120]");
  });

  it("S11-8.3: info/quota with use_quota off → [used, null]", async () => {
    const a = await register("info-noquota");
    const r = await dispatchWith({ USE_QUOTA: "false" }, a, "GET", "/info/quota");
    expectOk(r, "[0.0, null]");
  });

  it("S11-8.3 / S11-5.4: used counts payload characters (not UTF-8 bytes)", async () => {
    const a = await register("info-chars");
    await call(a, "PUT", "/storage/c/1", { body: { payload: "é".repeat(512) } });
    expect((await call(a, "GET", "/info/quota")).text).toBe("[0.5, 5120]");
  });

  it("S11-8.4: info/collection_usage → {name: KB float}; 3+500 chars → 0.4912109375; payload-less → 0.0", async () => {
    const a = await register("info-usage");
    await call(a, "PUT", "/storage/col2/a", { body: { payload: "abc" } });
    await call(a, "PUT", "/storage/col2/b", { body: { payload: "x".repeat(500) } });
    await call(a, "PUT", "/storage/nop/a", { body: { sortindex: 1 } });
    const r = await call(a, "GET", "/info/collection_usage");
    expectOk(r);
    expect(["{\"col2\": 0.4912109375, \"nop\": 0.0}", "{\"nop\": 0.0, \"col2\": 0.4912109375}"]).toContain(r.text);
  });

  it("S11-7.2: info/quota and info/collection_usage are always JSON whatever Accept says", async () => {
    const a = await register("info-accept");
    for (const path of ["/info/quota", "/info/collection_usage"]) {
      const r = await call(a, "GET", path, { headers: { Accept: "application/newlines" } });
      expect(r.headers.get("Content-Type")).toBe("application/json");
    }
  });
});
