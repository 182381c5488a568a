/** S11-7.1 to S11-7.3: Accept negotiation and the three list encodings. */
import { beforeAll, describe, expect, it } from "vitest";
import { negotiate } from "../../../src/protocol/v1_1";
import { call, fetchBytes, register, type Account } from "./_helpers";

describe("Accept negotiation (S11-7.2)", () => {
  it("S11-7.2: no header / empty → JSON", () => {
    expect(negotiate(null)).toBe("json");
    expect(negotiate("")).toBe("json");
  });

  it("S11-7.2: exact offers, JSON > newlines > whoisi on equal q (docs are wrong about whoisi precedence)", () => {
    expect(negotiate("application/newlines")).toBe("newlines");
    expect(negotiate("application/whoisi")).toBe("whoisi");
    expect(negotiate("application/newlines, application/whoisi")).toBe("newlines");
    expect(negotiate("application/whoisi, application/newlines")).toBe("newlines");
    expect(negotiate("application/whoisi, application/json")).toBe("json");
  });

  it("S11-7.2: a more specific range beats a wildcard at equal q (*/*, application/whoisi → whoisi)", () => {
    expect(negotiate("*/*, application/whoisi")).toBe("whoisi");
    expect(negotiate("application/*, application/newlines")).toBe("newlines");
    expect(negotiate("*/*")).toBe("json");
    expect(negotiate("application/*")).toBe("json");
  });

  it("S11-7.2: q values decide; q=0 drops a range; q clamped to [0,1]; unparsable q → 1", () => {
    expect(negotiate("application/json;q=0.5, application/whoisi")).toBe("whoisi");
    expect(negotiate("application/json;q=0.5, application/whoisi;q=0.6")).toBe("whoisi");
    expect(negotiate("application/json;q=0, application/newlines;q=0.1")).toBe("newlines");
    expect(negotiate("application/whoisi;q=0")).toBe("json");
    expect(negotiate("application/json;q=0.9, application/newlines;q=7")).toBe("newlines");
    expect(negotiate("application/json;q=0.9, application/newlines;q=abc")).toBe("newlines");
    expect(negotiate("application/json;q=0.9, application/newlines;q=1.2.3")).toBe("newlines");
    expect(negotiate("application/json;q=0.9, application/newlines;q=-1")).toBe("newlines");
    expect(negotiate("application/json;level=1;q=0.2, application/newlines;q=0.3")).toBe("newlines");
  });

  it("S11-7.2: */subtype and ranges without '/' (or with two) are dropped; type comparison is case-sensitive", () => {
    expect(negotiate("*/newlines")).toBe("json");
    expect(negotiate("newlines")).toBe("json");
    expect(negotiate("application/newlines/x")).toBe("json");
    expect(negotiate("Application/Newlines")).toBe("json");
    expect(negotiate("APPLICATION/WHOISI")).toBe("json");
  });

  it("S11-7.2: no match or junk → JSON (never 406)", () => {
    expect(negotiate("application/xxx")).toBe("json");
    expect(negotiate("text/html")).toBe("json");
    expect(negotiate(",,,;;;")).toBe("json");
    expect(negotiate("application/whoisi;q=")).toBe("whoisi");
  });
});

describe("list encodings (S11-7.3)", () => {
  let a: Account;
  let ts: string;
  beforeAll(async () => {
    a = await register("accept");
    const r = await call(a, "POST", "/storage/c", { body: [{ id: "id1", payload: "é" }, { id: "id2", payload: "x" }] });
    ts = r.headers.get("X-Weave-Timestamp") as string;
  });

  it("S11-7.3: application/newlines — each item's JSON text + \\n; X-Weave-Records", async () => {
    const r = await call(a, "GET", "/storage/c", { headers: { Accept: "application/newlines" } });
    expect(r.status).toBe(200);
    expect(r.headers.get("Content-Type")).toBe("application/newlines");
    expect(r.headers.get("X-Weave-Records")).toBe("2");
    expect(r.text).toBe('"id1"\n"id2"\n');
    const full = await call(a, "GET", "/storage/c?full=1", { headers: { Accept: "application/newlines" } });
    expect(full.text).toBe(`{"payload": "\\u00e9", "id": "id1", "modified": ${ts}}\n{"payload": "x", "id": "id2", "modified": ${ts}}\n`);
  });

  it("S11-7.3: application/whoisi — 4-byte big-endian length + JSON text, no separators", async () => {
    const { res, bytes } = await fetchBytes(a, "/storage/c", { Accept: "application/whoisi" });
    expect(res.headers.get("Content-Type")).toBe("application/whoisi");
    expect(res.headers.get("X-Weave-Records")).toBe("2");
    expect([...bytes]).toEqual([0, 0, 0, 5, ...new TextEncoder().encode('"id1"'), 0, 0, 0, 5, ...new TextEncoder().encode('"id2"')]);
  });

  it("S11-7.3: empty list → empty body for newlines and whoisi; [] for JSON", async () => {
    const n = await call(a, "GET", "/storage/none", { headers: { Accept: "application/newlines" } });
    expect([n.status, n.text, n.headers.get("X-Weave-Records")]).toEqual([200, "", "0"]);
    const { bytes } = await fetchBytes(a, "/storage/none", { Accept: "application/whoisi" });
    expect(bytes.length).toBe(0);
    expect((await call(a, "GET", "/storage/none", { headers: { Accept: "application/json" } })).text).toBe("[]");
  });

  it("S11-7.3 REF-QUIRK: info/collections and info/collection_counts in newlines/whoisi emit only the keys", async () => {
    const n = await call(a, "GET", "/info/collections", { headers: { Accept: "application/newlines" } });
    expect([n.headers.get("Content-Type"), n.text, n.headers.get("X-Weave-Records")]).toEqual(["application/newlines", '"c"\n', "1"]);
    const { res, bytes } = await fetchBytes(a, "/info/collection_counts", { Accept: "application/whoisi" });
    expect(res.headers.get("Content-Type")).toBe("application/whoisi");
    expect([...bytes]).toEqual([0, 0, 0, 3, 0x22, 0x63, 0x22]);
  });

  it("S11-7.1: JSON list Content-Type is exactly application/json; */* or html Accept keeps JSON for lists", async () => {
    for (const accept of ["*/*", "text/html,application/xhtml+xml,*/*;q=0.8", "application/json"]) {
      const r = await call(a, "GET", "/storage/c", { headers: { Accept: accept } });
      expect(r.headers.get("Content-Type"), accept).toBe("application/json");
      expect(r.text).toBe('["id1", "id2"]');
    }
  });

  it("S11-7.2: GET item, PUT, POST, DELETE are always JSON", async () => {
    const h = { Accept: "application/newlines" };
    expect((await call(a, "GET", "/storage/c/id1", { headers: h })).headers.get("Content-Type")).toBe("application/json");
    expect((await call(a, "PUT", "/storage/c/id3", { body: { payload: "z" }, headers: h })).headers.get("Content-Type")).toBe("application/json");
    expect((await call(a, "POST", "/storage/c", { body: [], headers: h })).headers.get("Content-Type")).toBe("application/json");
    expect((await call(a, "DELETE", "/storage/c/id3", { headers: h })).headers.get("Content-Type")).toBe("application/json");
  });
});
