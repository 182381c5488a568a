/** S11-8.7: PUT /storage/<c>/<id> — create or partial update. */
import { describe, expect, it } from "vitest";
import { call, expectError, expectOk, expectWeave, PLAIN, plain, register, snapshot, tsMs } from "./_helpers";

describe("PUT item", () => {
  it("S11-8.7 step 7: 200, body == X-Weave-Timestamp (TS text), application/json; repeated 20×", async () => {
    const a = await register("put");
    let last = 0;
    for (let i = 0; i < 20; i++) {
      const r = await call(a, "PUT", "/storage/c/1", { body: { payload: `v${i}` } });
      expectOk(r);
      expect(r.text).toBe(r.headers.get("X-Weave-Timestamp"));
      expect(tsMs(r.text)).toBeGreaterThan(last);
      last = tsMs(r.text);
    }
    expect(Math.abs(last - Date.now())).toBeLessThan(5000);
  });

  it("S11-8.7: URL id wins over the body id (which is only validated)", async () => {
    const a = await register("put-id");
    const r = await call(a, "PUT", "/storage/c/url", { body: { id: "body", payload: "p" } });
    expectOk(r);
    expect((await call(a, "GET", "/storage/c")).text).toBe('["url"]');
    expectWeave(await call(a, "PUT", "/storage/c/url", { body: { id: "x".repeat(65), payload: "p" } }), 8);
  });

  it("S11-8.7 step 3: unparsable body → 400 6 (bad JSON, empty body, invalid UTF-8, trailing garbage); nothing stored", async () => {
    const a = await register("put-json");
    await call(a, "PUT", "/storage/c/1", { body: { payload: "orig" } });
    const before = await snapshot(a);
    for (const raw of ["{not json", "", "{\"payload\": \"x\"} x", "{'payload': 'x'}", new Uint8Array([0x7b, 0x22, 0x70, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), "\ufeff{}"]) {
      expectWeave(await call(a, "PUT", "/storage/c/1", { raw }), 6);
    }
    expect(await snapshot(a)).toEqual(before);
  });

  it("S11-8.7: PUT with payload sets modified; body fields written, absent fields kept on update", async () => {
    const a = await register("put-upd");
    const r1 = await call(a, "PUT", "/storage/c/1", { body: { payload: "a", sortindex: 3, parentid: "p", predecessorid: "q" } });
    const r2 = await call(a, "PUT", "/storage/c/1", { body: { payload: "b" } });
    expect(tsMs(r2.text)).toBeGreaterThan(tsMs(r1.text));
    expect((await call(a, "GET", "/storage/c/1")).text).toBe(
      `{"sortindex": 3, "modified": ${r2.text}, "id": "1", "predecessorid": "q", "parentid": "p", "payload": "b"}` // S11-B, all six,
    );
  });

  it("S11-8.7: sortindex/parentid/predecessorid-only update keeps modified and answers the existing modified", async () => {
    const a = await register("put-meta");
    const r1 = await call(a, "PUT", "/storage/c/1", { body: { payload: "a" } });
    for (const body of [{ sortindex: 9 }, { parentid: "pa" }, { predecessorid: "pr" }]) {
      const r = await call(a, "PUT", "/storage/c/1", { body });
      expectOk(r, r1.text);
      expect(r.headers.get("X-Weave-Timestamp")).not.toBe(r1.text);
    }
    expect((await call(a, "GET", "/storage/c/1")).text).toBe(
      `{"sortindex": 9, "modified": ${r1.text}, "id": "1", "predecessorid": "pr", "parentid": "pa", "payload": "a"}`,
    );
    expect((await call(a, "GET", "/info/collections")).text).toBe(`{"c": ${r1.text}}`);
  });

  it("S11-8.7 REF-QUIRK: insert without payload → body null, record without modified; info/collections shows null", async () => {
    const a = await register("put-null");
    const r = await call(a, "PUT", "/storage/c/np", { body: { sortindex: 2 } });
    expectOk(r, "null");
    expect((await call(a, "GET", "/storage/c/np")).text).toBe('{"sortindex": 2, "id": "np"}');
    expect((await call(a, "GET", "/info/collections")).text).toBe('{"c": null}');
    const again = await call(a, "PUT", "/storage/c/np", { body: { parentid: "x" } });
    expectOk(again, "null");
    expect((await call(a, "GET", "/storage/c/np2")).status).toBe(404);
    // Empty object: still an insert of a bare record.
    expectOk(await call(a, "PUT", "/storage/c/bare", { body: {} }), "null");
    expect((await call(a, "GET", "/storage/c/bare")).text).toBe('{"id": "bare"}');
  });

  it("S11-8.7 REF-QUIRK/BUG fixed: client-supplied modified is ignored (with and without payload)", async () => {
    const a = await register("put-mod");
    const r = await call(a, "PUT", "/storage/c/1", { body: { payload: "a", modified: 12345 } });
    expect((await call(a, "GET", "/storage/c/1")).json).toMatchObject({ modified: Number(r.text) });
    const n = await call(a, "PUT", "/storage/c/2", { body: { sortindex: 1, modified: 12345 } });
    expectOk(n, "null");
    expect((await call(a, "GET", "/storage/c/2")).text).toBe('{"sortindex": 1, "id": "2"}');
  });

  it("S11-8.7: payload \"\" is a payload: sets modified and is returned", async () => {
    const a = await register("put-empty");
    const r = await call(a, "PUT", "/storage/c/e", { body: { payload: "" } });
    expect((await call(a, "GET", "/storage/c/e")).text).toBe(`{"payload": "", "id": "e", "modified": ${r.text}}`);
  });

  it("S11-8.7 / S11-7.4: non-ASCII payload is stored and returned with lowercase \\uXXXX escapes (surrogate pairs above U+FFFF)", async () => {
    const a = await register("put-utf");
    const r = await call(a, "PUT", "/storage/c/u", { body: { payload: "é\u00ff€😀/\"\\\n\t\u0001\u007f" } });
    expect((await call(a, "GET", "/storage/c/u")).text).toBe(
      `{"payload": "\\u00e9\\u00ff\\u20ac\\ud83d\\ude00/\\"\\\\\\n\\t\\u0001\\u007f", "id": "u", "modified": ${r.text}}`,
    );
  });

  it("S11-5.1 / S11-7.4: a payload round-trips exactly, NUL and escapes included", async () => {
    const a = await register("put-nul");
    const r = await call(a, "PUT", "/storage/c/s", { raw: '{"payload": "a\\u0000b\\u00e9\\ud83d\\ude00c"}' });
    expectOk(r);
    expect((await call(a, "GET", "/storage/c/s")).text).toBe(`{"payload": "a\\u0000b\\u00e9\\ud83d\\ude00c", "id": "s", "modified": ${r.text}}`);
  });

  it("S11-5.2 (decision): a payload with a lone surrogate is refused (8), never stored altered", async () => {
    // The reference (Python 2) stored u"\ud800" as is. SQLite text is UTF-8,
    // which cannot represent it; storing would return U+FFFD instead, so the
    // record is refused as an invalid WBO and nothing is written.
    const a = await register("put-surrogate");
    const r = await call(a, "PUT", "/storage/c/s", { raw: '{"payload": "a\\ud800c"}' });
    expect([r.status, r.text]).toEqual([400, "8"]);
    expect((await call(a, "GET", "/storage/c/s")).status).toBe(404);
    const b = await call(a, "POST", "/storage/c", { raw: '[{"id": "x", "payload": "\\udc00"}, {"id": "y", "payload": "ok"}]' });
    expect(b.json).toMatchObject({ failed: { x: ["invalid wbo"] }, success: ["y"] });
  });

  it("S11-8.7 step 2 before step 3: X-If-Unmodified-Since failure wins over a bad body (412, not 400)", async () => {
    const a = await register("put-412");
    const r1 = await call(a, "PUT", "/storage/c/1", { body: { payload: "a" } });
    const stale = (tsMs(r1.text) - 10) / 1000;
    const r = await call(a, "PUT", "/storage/c/1", { raw: "{bad", headers: { "X-If-Unmodified-Since": stale.toFixed(2) } });
    expectError(r, 412, PLAIN, plain(412, "c"));
  });

  it("S11-8.7: a URL id longer than 64 chars is not validated (stored and readable)", async () => {
    const a = await register("put-longurl");
    const id = "L".repeat(100);
    expectOk(await call(a, "PUT", `/storage/c/${id}`, { body: { payload: "x" } }));
    expect((await call(a, "GET", `/storage/c/${id}`)).json).toMatchObject({ id });
  });

  it("S11-8.7: PUT to another collection with the same id is independent", async () => {
    const a = await register("put-cols");
    await call(a, "PUT", "/storage/c1/same", { body: { payload: "one" } });
    await call(a, "PUT", "/storage/c2/same", { body: { payload: "two" } });
    expect((await call(a, "GET", "/storage/c1/same")).json).toMatchObject({ payload: "one" });
    expect((await call(a, "GET", "/storage/c2/same")).json).toMatchObject({ payload: "two" });
  });
});
