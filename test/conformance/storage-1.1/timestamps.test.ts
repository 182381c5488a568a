/** S11-6 (timestamps), S11-10 (X-If-Unmodified-Since), S11-17 (per-request server time). */
import { describe, expect, it } from "vitest";
import { formatTs, nowTick, parseTs11 } from "../../../src/lib/timestamp";
import { call, expectError, expectOk, PLAIN, plain, register, snapshot, TS_RE, tsMs } from "./_helpers";

describe("timestamps: S11-6 formats", () => {
  it("S11-6: wire format keeps exactly two decimals (trailing zeros kept)", () => {
    expect(formatTs(1300000000100)).toBe("1300000000.10");
    expect(formatTs(1300000000000)).toBe("1300000000.00");
    expect(formatTs(1300000000120)).toBe("1300000000.12");
    expect(formatTs(0)).toBe("0.00");
  });

  it("S11-6: server_time is the clock rounded half-to-even to 0.01 s", () => {
    expect(nowTick(1300000000124)).toBe(1300000000120);
    expect(nowTick(1300000000126)).toBe(1300000000130);
    expect(nowTick(1300000000125)).toBe(1300000000120); // tie → even hundredth (12)
    expect(nowTick(1300000000135)).toBe(1300000000140); // tie → even hundredth (14)
  });

  it("S11-6: incoming timestamps use Decimal syntax, quantized half-even to hundredths", () => {
    expect(parseTs11("1300000000.125")).toBe(1300000000120);
    expect(parseTs11("1300000000.135")).toBe(1300000000140);
    expect(parseTs11("1300000000.1251")).toBe(1300000000130);
    expect(parseTs11(" 1300000000.12 ")).toBe(1300000000120);
    expect(parseTs11("+12")).toBe(12000);
    expect(parseTs11("-1.5")).toBe(-1500);
    expect(parseTs11("12.")).toBe(12000);
    expect(parseTs11(".5")).toBe(500);
    expect(parseTs11("1e3")).toBe(1000000);
    expect(parseTs11("1.3E9")).toBe(1300000000000);
    expect(parseTs11("0.005")).toBe(0);
    expect(parseTs11("0.015")).toBe(20);
    // Long mantissas with large negative exponents are exact, not flushed to zero.
    expect(parseTs11(`1${"0".repeat(100)}e-100`)).toBe(1000);
    expect(parseTs11(`13000000001${"0".repeat(80)}e-81`)).toBe(1300000000100);
    expect(parseTs11("5e-3")).toBe(0);
    expect(parseTs11("15e-3")).toBe(20);
    expect(parseTs11("1e-999999999")).toBe(0);
    expect(parseTs11("1e999999999")).toBe(10 ** 16);
    for (const bad of ["", " ", "abc", "0x10", "Infinity", "-Infinity", "inf", "NaN", "nan", "sNaN", "1,5", "1.2.3", "1e", "e3", "--1", "1 2"]) {
      expect(parseTs11(bad), bad).toBeNull();
    }
  });
});

describe("timestamps: wire", () => {
  it("S11-6 / S11-2 step 11: X-Weave-Timestamp on every success, ≈ now, 2 decimals", async () => {
    const a = await register("ts");
    for (const [m, p] of [
      ["GET", "/info/collections"],
      ["GET", "/info/collection_counts"],
      ["GET", "/info/quota"],
      ["GET", "/info/collection_usage"],
      ["GET", "/storage/c"],
    ] as const) {
      const r = await call(a, m, p);
      const h = r.headers.get("X-Weave-Timestamp");
      expect(h, p).toMatch(TS_RE);
      expect(Math.abs(tsMs(h) - Date.now())).toBeLessThan(5000);
    }
  });

  it("S11-6: DELETE responses and the batch 'modified' equal X-Weave-Timestamp", async () => {
    const a = await register("ts-del");
    const p = await call(a, "POST", "/storage/c", { body: [{ id: "a", payload: "x" }] });
    expect(p.text).toContain(`"modified": ${p.headers.get("X-Weave-Timestamp")},`);
    for (const path of ["/storage/c/a", "/storage/c"]) {
      const d = await call(a, "DELETE", path);
      expect(d.text).toBe(d.headers.get("X-Weave-Timestamp"));
    }
  });

  it("S11-17: successive writes get increasing timestamps; newer=<last X-Weave-Timestamp> never misses a later write", async () => {
    const a = await register("ts-mono");
    let prev = 0;
    for (let i = 0; i < 10; i++) {
      const r = await call(a, "PUT", `/storage/c/${i}`, { body: { payload: "x" } });
      const t = tsMs(r.text);
      expect(t).toBeGreaterThan(prev);
      const newer = await call(a, "GET", `/storage/c?newer=${formatTs(prev)}`);
      expect(newer.json).toEqual([`${i}`]);
      prev = t;
    }
  });
});

describe("X-If-Unmodified-Since (S11-10)", () => {
  it("S11-10: fails (412, detail = collection name) iff collection max modified > header; equality passes", async () => {
    const a = await register("ius");
    const w = await call(a, "PUT", "/storage/coll/1", { body: { payload: "a" } });
    const before = await snapshot(a);
    const stale = formatTs(tsMs(w.text) - 10);
    expectError(await call(a, "PUT", "/storage/coll/2", { body: { payload: "b" }, headers: { "X-If-Unmodified-Since": stale } }), 412, PLAIN, plain(412, "coll"));
    expect(await snapshot(a)).toEqual(before);
    expectOk(await call(a, "PUT", "/storage/coll/2", { body: { payload: "b" }, headers: { "X-If-Unmodified-Since": w.text } }));
  });

  it("S11-10 / S11-14.3: the 412 renders HTML for Accept text/html", async () => {
    const a = await register("ius-html");
    const w = await call(a, "PUT", "/storage/coll/1", { body: { payload: "a" } });
    const r = await call(a, "DELETE", "/storage/coll/1", { headers: { "X-If-Unmodified-Since": "1000", Accept: "text/html" } });
    expect(w.status).toBe(200);
    expect(r.status).toBe(412);
    expect(r.headers.get("Content-Type")).toBe("text/html; charset=UTF-8");
    expect(r.text).toBe(
      "<html>\n <head>\n  <title>412 Precondition Failed</title>\n </head>\n <body>\n  <h1>412 Precondition Failed</h1>\n  Request precondition failed.<br /><br />\ncoll\n\n\n </body>\n</html>",
    );
  });

  it("S11-10: a collection with no rows passes; only the addressed collection counts", async () => {
    const a = await register("ius-empty");
    await call(a, "PUT", "/storage/other/1", { body: { payload: "a" } });
    expectOk(await call(a, "PUT", "/storage/coll/1", { body: { payload: "x" }, headers: { "X-If-Unmodified-Since": "1" } }));
  });

  it("S11-10: NULL modified rows are ignored by the check", async () => {
    const a = await register("ius-null");
    await call(a, "PUT", "/storage/coll/n", { body: { sortindex: 1 } });
    expectOk(await call(a, "POST", "/storage/coll", { body: [{ id: "x", payload: "p" }], headers: { "X-If-Unmodified-Since": "1" } }));
  });

  it("S11-10: the header value is quantized half-even like other timestamps", async () => {
    const a = await register("ius-q");
    const w = await call(a, "PUT", "/storage/coll/1", { body: { payload: "a" } });
    const t = tsMs(w.text);
    // t - 0.004 s rounds up to t → passes; t - 0.006 rounds to t - 0.01 → fails.
    const s = (ms: number) => `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, "0")}`;
    expectOk(await call(a, "DELETE", "/storage/coll/zz", { headers: { "X-If-Unmodified-Since": s(t - 4) } }));
    expect((await call(a, "DELETE", "/storage/coll/zz", { headers: { "X-If-Unmodified-Since": s(t - 6) } })).status).toBe(412);
  });

  it("S11-10 REF-BUG fixed: an unparsable header → 400 webob text (not 500); nothing written", async () => {
    const a = await register("ius-bad");
    await call(a, "PUT", "/storage/coll/1", { body: { payload: "a" } });
    const before = await snapshot(a);
    for (const [m, p, body] of [
      ["PUT", "/storage/coll/1", { payload: "b" }],
      ["POST", "/storage/coll", [{ id: "2", payload: "b" }]],
      ["DELETE", "/storage/coll/1", undefined],
      ["DELETE", "/storage/coll", undefined],
    ] as const) {
      for (const h of ["abc", "", "NaN", "Infinity", "0x1"]) {
        const r = await call(a, m, p, { body, headers: { "X-If-Unmodified-Since": h } });
        expectError(r, 400, PLAIN, plain(400, 'Invalid value for "X-If-Unmodified-Since"'));
      }
    }
    expect(await snapshot(a)).toEqual(before);
  });

  it("S11-10: not checked on GET", async () => {
    const a = await register("ius-get");
    await call(a, "PUT", "/storage/coll/1", { body: { payload: "a" } });
    expectOk(await call(a, "GET", "/storage/coll", { headers: { "X-If-Unmodified-Since": "1" } }));
    expectOk(await call(a, "GET", "/storage/coll/1", { headers: { "X-If-Unmodified-Since": "garbage" } }));
  });
});
