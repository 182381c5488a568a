/** S11-8.8: POST (and PUT) /storage/<c> — batch upload. */
import { describe, expect, it } from "vitest";
import { call, dispatchWith, expectError, expectOk, expectWeave, PLAIN, plain, register, snapshot, tsMs } from "./_helpers";

type Batch = { failed: Record<string, string[]>; modified: number; success: string[] };

describe("POST batch", () => {
  it("S11-8.8 (peer test): mixed batch → exact success list and failed map", async () => {
    const a = await register("post-peer");
    await call(a, "PUT", "/storage/col2/modifyme", { body: { payload: "old" } });
    await call(a, "PUT", "/storage/col2/modifyme2", { body: { payload: "old2" } });
    const long = "A".repeat(70);
    const r = await call(a, "POST", "/storage/col2", {
      body: [
        { id: "1", payload: "x" },
        { id: "2" },
        { id: "3", parentid: "a", predecessorid: "b", sortindex: 3, payload: "A" },
        { id: "4", parentid: long, payload: "A" },
        { id: "5", predecessorid: long, payload: "A" },
        { id: "6", sortindex: "blah", payload: "A" },
        { payload: "payload" },
        { id: "modifyme", payload: "new" },
        { id: "modifyme2", sortindex: 5 },
      ],
    });
    expectOk(r);
    const b = r.json as Batch;
    expect(b.success).toEqual(["1", "2", "3", "modifyme", "modifyme2"]);
    expect(b.failed).toEqual({ "": ["invalid id"], "4": ["invalid parentid"], "5": ["invalid predecessorid"], "6": ["invalid sortindex"] });
    expect(r.text.startsWith('{"failed": {')).toBe(true);
    expect(r.text).toMatch(new RegExp(`\\}, "modified": ${r.headers.get("X-Weave-Timestamp")?.replace(".", "\\.")}, "success": \\["1", "2", "3", "modifyme", "modifyme2"\\]\\}$`));
    // S11-8.8 step 6: every element, with or without payload, gets modified := server_time.
    const m2 = await call(a, "GET", "/storage/col2/modifyme2");
    expect(m2.text).toBe(`{"sortindex": 5, "payload": "old2", "id": "modifyme2", "modified": ${r.headers.get("X-Weave-Timestamp")}}`);
    expect((await call(a, "GET", "/storage/col2/2")).text).toBe(`{"id": "2", "modified": ${r.headers.get("X-Weave-Timestamp")}}`);
  });

  it("S11-8.8 step 7: empty array → 200 {\"failed\": {}, \"modified\": TS, \"success\": []}", async () => {
    const a = await register("post-empty");
    const r = await call(a, "POST", "/storage/c", { raw: "[]" });
    expectOk(r, `{"failed": {}, "modified": ${r.headers.get("X-Weave-Timestamp")}, "success": []}`);
    expect((await call(a, "GET", "/info/collections")).text).toBe("{}");
  });

  it("S11-3.2: PUT /storage/<c> is identical to POST", async () => {
    const a = await register("post-put");
    const r = await call(a, "PUT", "/storage/c", { body: [{ id: 3, payload: "x" }] });
    expectOk(r, `{"failed": {}, "modified": ${r.headers.get("X-Weave-Timestamp")}, "success": ["3"]}`);
  });

  it("S11-8.8 step 2: unparsable body → 400 6; nothing stored", async () => {
    const a = await register("post-json");
    await call(a, "PUT", "/storage/c/1", { body: { payload: "x" } });
    const before = await snapshot(a);
    for (const raw of ["[", "", "[{]", new Uint8Array([0x5b, 0x22, 0xc3, 0x22, 0x5d]), "[1,]"]) {
      expectWeave(await call(a, "POST", "/storage/c", { raw }), 6);
    }
    expect(await snapshot(a)).toEqual(before);
  });

  it("S11-8.8 step 3: non-array, non-PUT-able body → 400 8 (string, number, null, bool, object without id, id with '/', id null)", async () => {
    const a = await register("post-nonarray");
    for (const raw of ['"x"', "5", "null", "true", '{"payload":"x"}', '{"id":"a/b","payload":"x"}', '{"id":null,"payload":"x"}']) {
      expectWeave(await call(a, "POST", "/storage/c", { raw }), 8);
    }
    expect((await call(a, "GET", "/info/collections")).text).toBe("{}");
  });

  it("S11-8.8 step 3: a lone object with an id is a PUT of that id (timestamp body, PUT validation → 8)", async () => {
    const a = await register("post-lone");
    const r = await call(a, "POST", "/storage/c", { body: { id: 42, payload: "lone" } });
    expectOk(r, r.headers.get("X-Weave-Timestamp") ?? "");
    expect((await call(a, "GET", "/storage/c/42")).text).toBe(`{"payload": "lone", "id": "42", "modified": ${r.text}}`);
    // PUT semantics: no payload → modified untouched, body is the existing modified.
    const meta = await call(a, "POST", "/storage/c", { body: { id: "42", sortindex: 1 } });
    expectOk(meta, r.text);
    expectWeave(await call(a, "POST", "/storage/c", { body: { id: "42", ttl: -1 } }), 8);
    expectWeave(await call(a, "POST", "/storage/c", { body: { id: "42", x: [1] } }), 8);
    // Body ids have no charset limit here either.
    expectOk(await call(a, "POST", "/storage/c", { body: { id: "{sp ace}", payload: "p" } }));
  });

  it("S11-8.8 step 4.4: index ≥ batch_max_count → retry wbo (invalid elements count for the index)", async () => {
    const a = await register("post-count");
    const r = await dispatchWith({ BATCH_MAX_COUNT: "3" }, a, "POST", "/storage/c", {
      body: [{ id: "a", payload: "1" }, 7, { id: "b", payload: "2" }, { id: "c", payload: "3" }, { id: "d", sortindex: "x" }, {}],
    });
    expectOk(r);
    const b = r.json as Batch;
    expect(b.success).toEqual(["a", "b"]);
    expect(b.failed).toEqual({ "": ["invalid id"], c: ["retry wbo"], d: ["invalid sortindex"] });
  });

  it("S11-8.8 step 4.5: running byte total ≥ batch_max_bytes → retry bytes for this and every later item (even payload-less)", async () => {
    const a = await register("post-bytes");
    const r = await dispatchWith({ BATCH_MAX_BYTES: "10" }, a, "POST", "/storage/c", {
      body: [
        { id: "a", payload: "12345" },
        { id: "b", payload: "1234" },
        { id: "c", payload: "1" },
        { id: "d" },
        { id: "e", sortindex: "bad" },
      ],
    });
    const b = r.json as Batch;
    expect(b.success).toEqual(["a", "b"]);
    expect(b.failed).toEqual({ c: ["retry bytes"], d: ["retry bytes"], e: ["invalid sortindex"] });
    expect((await call(a, "GET", "/storage/c")).text).toBe('["a", "b"]');
  });

  it("S11-8.8 step 4.5: the byte total counts characters, not UTF-8 bytes", async () => {
    const a = await register("post-chars");
    const r = await dispatchWith({ BATCH_MAX_BYTES: "6" }, a, "POST", "/storage/c", {
      body: [{ id: "a", payload: "ééééé" }, { id: "b", payload: "é" }],
    });
    const b = r.json as Batch;
    expect(b.success).toEqual(["a"]);
    expect(b.failed).toEqual({ b: ["retry bytes"] });
  });

  it("S11-8.8 default batch_max_count 100: the 101st element → retry wbo", async () => {
    const a = await register("post-101");
    const items = Array.from({ length: 101 }, (_, i) => ({ id: `i${i}`, payload: "x" }));
    const b = (await call(a, "POST", "/storage/c", { body: items })).json as Batch;
    expect(b.success.length).toBe(100);
    expect(b.failed).toEqual({ i100: ["retry wbo"] });
    expect((await call(a, "GET", "/info/collection_counts")).text).toBe('{"c": 100}');
  });

  it("S11-8.8 step 6: duplicate ids are written in order, last wins, and appear twice in success", async () => {
    const a = await register("post-dup");
    const r = await call(a, "POST", "/storage/c", { body: [{ id: "x", payload: "first", sortindex: 1 }, { id: "x", payload: "second" }] });
    expect((r.json as Batch).success).toEqual(["x", "x"]);
    expect((await call(a, "GET", "/storage/c/x")).text).toBe(`{"sortindex": 1, "payload": "second", "id": "x", "modified": ${r.headers.get("X-Weave-Timestamp")}}`);
  });

  it("S11-8.8: ids in success/failed are string forms ({\"id\": 3} → \"3\")", async () => {
    const a = await register("post-str");
    const r = await call(a, "POST", "/storage/c", { raw: '[{"id":3,"payload":"x"},{"id":4.0,"ttl":"x"}]' });
    expect(r.text).toBe(`{"failed": {"4.0": ["invalid ttl"]}, "modified": ${r.headers.get("X-Weave-Timestamp")}, "success": ["3"]}`);
  });

  it("S11-8.8 step 1: X-If-Unmodified-Since is checked first (412 even with a bad body)", async () => {
    const a = await register("post-412");
    const w = await call(a, "PUT", "/storage/c/1", { body: { payload: "a" } });
    const before = await snapshot(a);
    const hdr = { "X-If-Unmodified-Since": ((tsMs(w.text) - 10) / 1000).toFixed(2) };
    expectError(await call(a, "POST", "/storage/c", { raw: "[", headers: hdr }), 412, PLAIN, plain(412, "c"));
    expectError(await call(a, "POST", "/storage/c", { body: [{ id: "2", payload: "b" }], headers: hdr }), 412, PLAIN, plain(412, "c"));
    expect(await snapshot(a)).toEqual(before);
  });

  it("S11-8.8 / S11-6: all records of one batch share modified = server_time = X-Weave-Timestamp", async () => {
    const a = await register("post-ts");
    const r = await call(a, "POST", "/storage/c", { body: [{ id: "a", payload: "1" }, { id: "b", payload: "2" }] });
    const ts = r.headers.get("X-Weave-Timestamp");
    expect((await call(a, "GET", "/storage/c?full=1")).text).toBe(
      `[{"payload": "1", "id": "a", "modified": ${ts}}, {"payload": "2", "id": "b", "modified": ${ts}}]`,
    );
    expect(Number((r.json as Batch).modified).toFixed(2)).toBe(ts);
  });
});
