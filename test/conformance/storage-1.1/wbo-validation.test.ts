/** S11-5.1 to S11-5.2: WBO validation rules V1-V5 and Python conversions, via PUT (code 8) and POST (per-item). */
import { describe, expect, it } from "vitest";
import { call, expectOk, expectWeave, register, snapshot } from "./_helpers";

type Row = Record<string, unknown>;

/** POSTs items and returns the parsed failed/success. */
async function batch(raw: string) {
  const a = await register("wbo");
  const r = await call(a, "POST", "/storage/c", { raw });
  expectOk(r);
  return { a, r, body: r.json as { failed: Record<string, string[]>; success: string[] } };
}

describe("WBO validation", () => {
  it("S11-8.7 step 4 / V1: PUT body not an object, or any non-scalar value → 400 8; nothing stored", async () => {
    const a = await register("v1");
    for (const raw of ['"notawbo"', "42", "[]", '[{"payload":"x"}]', "null", "true", '{"id":[1]}', '{"payload":"x","foo":[1]}', '{"payload":{"a":1}}', '{"x":{}}']) {
      expectWeave(await call(a, "PUT", "/storage/c/1", { raw }), 8);
    }
    expect(await snapshot(a, ["c"])).toEqual(await snapshot(a, ["c"]));
    expect((await call(a, "GET", "/info/collections")).text).toBe("{}");
  });

  it("S11-5.1: unknown keys are ignored but type-checked; null values count as absent", async () => {
    const a = await register("v1b");
    expectOk(await call(a, "PUT", "/storage/c/1", { body: { payload: "x", foo: 1, bar: "s", baz: true, qux: null, sortindex: null, ttl: null } }));
    const g = await call(a, "GET", "/storage/c/1");
    expect(g.text).toMatch(/^\{"payload": "x", "id": "1", "modified": \d+\.\d\d\}$/);
  });

  it("S11-5.1 REF-BUG fixed: username, collection and payload_size in the body are ignored", async () => {
    const a = await register("v1c");
    const r = await call(a, "PUT", "/storage/c/1", { body: { payload: "abcd", username: 999, collection: 7, payload_size: 999999 } });
    expectOk(r);
    expect((await call(a, "GET", "/info/quota")).text).toBe("[0.00390625, 5120]");
    expect((await call(a, "GET", "/storage/c?full=1")).text).toBe(`[{"payload": "abcd", "id": "1", "modified": ${r.text}}]`);
    const p = await call(a, "POST", "/storage/d", { body: [{ id: "x", payload: "ab", collection: "c", username: 1, payload_size: -5 }] });
    expect(p.json).toMatchObject({ success: ["x"], failed: {} });
    expect((await call(a, "GET", "/info/collection_usage")).json).toEqual({ c: 0.00390625, d: 0.001953125 });
  });

  it("S11-8.8 step 4.1: non-object or non-scalar element → failed[\"\"] = [\"invalid wbo\"] (later failures under \"\" overwrite)", async () => {
    const { body } = await batch('[1, "s", null, [], {"id":"a","x":[1]}, {"id":"ok","payload":"p"}]');
    expect(body.failed).toEqual({ "": ["invalid wbo"] });
    expect(body.success).toEqual(["ok"]);
  });

  it("S11-8.8 step 4.2: no id / id null → failed[\"\"] = [\"invalid id\"], checked before V2-V5", async () => {
    const { r } = await batch('[{"payload":"p","ttl":-5}]');
    expect(r.text).toMatch(/^\{"failed": \{"": \["invalid id"\]\}, "modified": \d+\.\d\d, "success": \[\]\}$/);
    const two = await batch('[{"id":null,"sortindex":"x"}, {"payload":"p"}]');
    expect(two.body.failed).toEqual({ "": ["invalid id"] });
  });

  it("S11-5.2 V2: id/parentid/predecessorid longer than 64 chars → invalid <field>; exactly 64 is fine", async () => {
    const long = "A".repeat(65);
    const ok64 = "B".repeat(64);
    const { body, a } = await batch(
      JSON.stringify([
        { id: long, payload: "x" },
        { id: "p", parentid: long },
        { id: "q", predecessorid: long },
        { id: ok64, parentid: ok64, predecessorid: ok64, payload: "y" },
      ]),
    );
    expect(body.failed).toEqual({ [long]: ["invalid id"], p: ["invalid parentid"], q: ["invalid predecessorid"] });
    expect(body.success).toEqual([ok64]);
    for (const raw of [JSON.stringify({ id: long }), JSON.stringify({ parentid: long }), JSON.stringify({ predecessorid: long })]) {
      expectWeave(await call(a, "PUT", "/storage/c/z", { raw }), 8);
    }
  });

  it("S11-5.1 / V2: ids are converted with Python str(): 12→\"12\", 1.5→\"1.5\", 1.0→\"1.0\", 1e3→\"1000.0\", true→\"True\", false→\"False\"", async () => {
    const { body, a } = await batch('[{"id":12,"payload":"a"},{"id":1.5},{"id":1.0},{"id":1e3},{"id":true},{"id":false},{"id":12345678901234567890}]');
    expect(body.success).toEqual(["12", "1.5", "1.0", "1000.0", "True", "False", "12345678901234567890"]);
    expect(body.failed).toEqual({});
    const p = await call(a, "PUT", "/storage/c/pp", { raw: '{"payload":"x","parentid":7,"predecessorid":2.5}' });
    expectOk(p);
    expect((await call(a, "GET", "/storage/c/pp")).text).toBe(`{"predecessorid": "2.5", "payload": "x", "id": "pp", "modified": ${p.text}, "parentid": "7"}`);
    expect((await call(a, "GET", "/storage/c?predecessorid=2.5")).text).toBe('["pp"]');
  });

  it("S11-5.1 / V2: Python str() of special floats: -0.0 → \"-0.0\", 1e999 (overflow, a Python inf) → \"inf\", -1e999 → \"-inf\", 1e16 → \"1e+16\"", async () => {
    const { body } = await batch('[{"id":-0.0},{"id":1e999},{"id":-1e999},{"id":1e16},{"id":0.1},{"id":3.14159265358979}]');
    expect(body.success).toEqual(["-0.0", "inf", "-inf", "1e+16", "0.1", "3.14159265359"]);
  });

  it("S11-5.2 REF-BUG fixed: non-ASCII id/parentid/predecessorid → invalid (PUT 8, batch per-item)", async () => {
    const { body, a } = await batch(JSON.stringify([{ id: "é", payload: "x" }, { id: "k", parentid: "ü" }, { id: "m", predecessorid: "✓" }]));
    expect(body.failed).toEqual({ "": ["invalid id"], k: ["invalid parentid"], m: ["invalid predecessorid"] });
    expect(body.success).toEqual([]);
    expectWeave(await call(a, "PUT", "/storage/c/1", { body: { id: "é", payload: "x" } }), 8);
  });

  it("S11-5.2 V3: ttl uses Python int(): ints, bools, truncated floats, ' 7 ' OK; '7.0', '1e3', 'abc', -1, 31536001 → invalid ttl", async () => {
    const good = [0, 31536000, true, false, 3.9, " 7 ", "+5", "-0"];
    const bad = [-1, 31536001, "7.0", "1e3", "abc", "", "0x10", -0.5e1, 1e400];
    const items = [...good.map((ttl, i) => ({ id: `g${i}`, ttl })), ...bad.map((ttl, i) => ({ id: `b${i}`, ttl }))];
    const raw = JSON.stringify(items).replace('"ttl":null', '"ttl":1e400');
    const { body, a } = await batch(raw);
    expect(body.success).toEqual(good.map((_, i) => `g${i}`));
    expect(body.failed).toEqual(Object.fromEntries(bad.map((_, i) => [`b${i}`, ["invalid ttl"]])));
    expectWeave(await call(a, "PUT", "/storage/c/1", { body: { payload: "x", ttl: "7.0" } }), 8);
  });

  it("S11-5.2 V4: sortindex int, then float truncated toward zero; range ±999999999", async () => {
    const cases: Array<[unknown, number | null]> = [
      [5, 5],
      ["5.5", 5],
      [-5.5, -5],
      ["-5.9", -5],
      [" 2.5 ", 2],
      ["1e3", 1000],
      [true, 1],
      [999999999, 999999999],
      [-999999999, -999999999],
      ["999999999.9", 999999999],
      [1000000000, null],
      ["-1000000000", null],
      ["blah", null],
      ["", null],
      ["inf", null],
      ["nan", null],
      ["-Infinity", null],
    ];
    const { body, a } = await batch(JSON.stringify(cases.map(([si], i) => ({ id: `s${i}`, sortindex: si }))));
    const expectedFailed = Object.fromEntries(cases.flatMap(([, v], i) => (v === null ? [[`s${i}`, ["invalid sortindex"]]] : [])));
    expect(body.failed).toEqual(expectedFailed);
    const list = (await call(a, "GET", "/storage/c?full=1")).json as Row[];
    expect(Object.fromEntries(list.map((r) => [r.id, r.sortindex]))).toEqual(
      Object.fromEntries(cases.flatMap(([, v], i) => (v === null ? [] : [[`s${i}`, v]]))),
    );
  });

  it("S11-5.2 V4 REF-BUG fixed: JSON literals NaN / Infinity / -Infinity are parsed and rejected as invalid (not 400 6, not 500)", async () => {
    const { body, a } = await batch(
      '[{"id":"a","sortindex":NaN},{"id":"b","ttl":Infinity},{"id":"c","sortindex":-Infinity},{"id":NaN},{"id":"d","payload":NaN},{"id":"e","payload":"ok","other":Infinity},{"id":"f","payload":"NaN Infinity"}]',
    );
    expect(body.failed).toEqual({
      a: ["invalid sortindex"],
      b: ["invalid ttl"],
      c: ["invalid sortindex"],
      "": ["invalid id"],
      d: ["payload not a string"],
    });
    expect(body.success).toEqual(["e", "f"]);
    expect((await call(a, "GET", "/storage/c/f")).json).toMatchObject({ payload: "NaN Infinity" });
    // Literal-looking text inside strings (escaped quotes and backslashes included) is left alone.
    const tricky = await call(a, "POST", "/storage/c", { raw: '[{"id":"g","payload":"\\\\\\"NaN\\\\","sortindex":Infinity},{"id":"h","payload":"\\"Infinity\\""}]' });
    expect(tricky.json).toMatchObject({ success: ["h"], failed: { g: ["invalid sortindex"] } });
    expect((await call(a, "GET", "/storage/c/h")).json).toMatchObject({ payload: '"Infinity"' });
    expectWeave(await call(a, "PUT", "/storage/c/1", { raw: '{"payload":"x","sortindex":NaN}' }), 8);
    expectWeave(await call(a, "PUT", "/storage/c/1", { raw: "NaN" }), 8);
    // Not a literal at a value position: still a parse error.
    expectWeave(await call(a, "PUT", "/storage/c/1", { raw: '{"payload":"x","sortindex":1NaN}' }), 6);
    expectWeave(await call(a, "PUT", "/storage/c/1", { raw: '{"payload":"x","sortindex":nan}' }), 6);
    expectWeave(await call(a, "PUT", "/storage/c/1", { raw: '{"payload":"x","sortindex":-NaN}' }), 6);
  });

  it("S11-5.2 V5: payload must be a string (payload not a string); ≤ 262144 UTF-8 bytes (payload too large)", async () => {
    const exact = "a".repeat(262144);
    const over = "a".repeat(262145);
    const multi = "é".repeat(131073); // 262146 bytes, 131073 chars
    const { body, a } = await batch(
      JSON.stringify([
        { id: "n", payload: 5 },
        { id: "t", payload: true },
        { id: "big", payload: over },
        { id: "mb", payload: multi },
        { id: "ok", payload: exact },
        { id: "empty", payload: "" },
      ]),
    );
    expect(body.failed).toEqual({ n: ["payload not a string"], t: ["payload not a string"], big: ["payload too large"], mb: ["payload too large"] });
    expect(body.success).toEqual(["ok", "empty"]);
    expectWeave(await call(a, "PUT", "/storage/c/x", { body: { payload: 1 } }), 8);
    expectWeave(await call(a, "PUT", "/storage/c/x", { body: { payload: over } }), 8);
    expectOk(await call(a, "PUT", "/storage/c/x", { body: { payload: exact } }));
    expect((await call(a, "GET", "/storage/c/empty")).json).toMatchObject({ payload: "" });
  });

  it("S11-5.2: rules apply in order V2 → V3 → V4 → V5 (first failure wins)", async () => {
    const long = "x".repeat(65);
    const { body } = await batch(
      JSON.stringify([
        { id: "1", parentid: long, ttl: -1, sortindex: "x", payload: 1 },
        { id: "2", ttl: -1, sortindex: "x", payload: 1 },
        { id: "3", sortindex: "x", payload: 1 },
      ]),
    );
    expect(body.failed).toEqual({ "1": ["invalid parentid"], "2": ["invalid ttl"], "3": ["invalid sortindex"] });
  });

  it("S11-5.2: not validated: missing payload, id charset, modified (client modified is ignored)", async () => {
    const { body, a } = await batch(JSON.stringify([{ id: "{a b}/c", modified: 5 }, { id: "x", modified: "junk", payload: "p" }]));
    expect(body.success).toEqual(["{a b}/c", "x"]);
    const x = (await call(a, "GET", "/storage/c/x")).json as Row;
    expect(x.modified).toBe(Number((body as unknown as { modified: number }).modified));
  });

  it("S11-8.8 step 4: a record id \"__proto__\" is reported and stored like any other", async () => {
    const { body, a } = await batch('[{"id":"__proto__","sortindex":"x"},{"id":"constructor","payload":"p"}]');
    expect(Object.keys(body.failed)).toEqual(["__proto__"]);
    expect(body.success).toEqual(["constructor"]);
    expect((await call(a, "GET", "/storage/c?full=1")).json).toMatchObject([{ id: "constructor" }]);
  });
});
