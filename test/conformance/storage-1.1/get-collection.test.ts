/** S11-8.5, S11-8.6 and S11-9: GET /storage/<c>, GET /storage/<c>/<id>, query parameters. */
import { beforeAll, describe, expect, it } from "vitest";
import { call, expectError, expectOk, PLAIN, plain, register, tsMs, type Account } from "./_helpers";

const ids = async (a: Account, q: string) => {
  const r = await call(a, "GET", `/storage/c${q}`);
  expect(r.status, `${q}: ${r.text}`).toBe(200);
  return r.json as string[];
};

describe("GET collection and item", () => {
  let a: Account;
  const ts: number[] = [];
  const tsText: string[] = [];
  beforeAll(async () => {
    a = await register("get");
    // Written one by one so that modified strictly increases: r0 < r1 < r2 < r3 < r4.
    const recs = [
      { payload: "p0", sortindex: 10, parentid: "P", predecessorid: "A" },
      { payload: "p1", sortindex: 30, parentid: "P" },
      { payload: "p2", sortindex: 20, predecessorid: "" },
      { payload: "p3" },
      { payload: "p4", sortindex: -5, parentid: "Q" },
    ];
    for (const [i, body] of recs.entries()) {
      const r = await call(a, "PUT", `/storage/c/r${i}`, { body });
      ts.push(tsMs(r.text));
      tsText.push(r.text);
    }
    // A payload-less record: NULL modified, NULL sortindex.
    await call(a, "PUT", "/storage/c/nul", { body: { parentid: "P" } });
  });

  it("S11-8.5: unknown or empty collection → 200 [] with X-Weave-Records: 0", async () => {
    const r = await call(a, "GET", "/storage/nothing");
    expectOk(r, "[]");
    expect(r.headers.get("X-Weave-Records")).toBe("0");
  });

  it("S11-8.5: without full → id strings in insertion order; X-Weave-Records = count", async () => {
    const r = await call(a, "GET", "/storage/c");
    expectOk(r, '["r0", "r1", "r2", "r3", "r4", "nul"]');
    expect(r.headers.get("X-Weave-Records")).toBe("6");
  });

  it("S11-8.5 / S11-B: full=1 → records with the reference key order, no ttl/payload_size", async () => {
    const r = await call(a, "GET", "/storage/c?full=1&ids=r0,r1,r3,nul");
    expectOk(
      r,
      `[{"sortindex": 10, "modified": ${tsText[0]}, "id": "r0", "predecessorid": "A", "parentid": "P", "payload": "p0"}, ` +
        `{"sortindex": 30, "payload": "p1", "id": "r1", "modified": ${tsText[1]}, "parentid": "P"}, ` +
        `{"payload": "p3", "id": "r3", "modified": ${tsText[3]}}, {"id": "nul", "parentid": "P"}]`,
    );
    expect(r.headers.get("X-Weave-Records")).toBe("4");
  });

  it("S11-9 full: REF-QUIRK full=0 is true; full= and bare ?full are false", async () => {
    expect((await call(a, "GET", "/storage/c?full=0&ids=r3")).text).toBe(`[{"payload": "p3", "id": "r3", "modified": ${tsText[3]}}]`);
    expect((await call(a, "GET", "/storage/c?full=&ids=r3")).text).toBe('["r3"]');
    expect((await call(a, "GET", "/storage/c?full&ids=r3")).text).toBe('["r3"]');
  });

  it("S11-9 ids: comma split, no trimming, '+' is a space, empty → [\"\"], long lists fine", async () => {
    expect(await ids(a, "?ids=r1,r3,zz")).toEqual(["r1", "r3"]);
    expect(await ids(a, "?ids=r1,%20r3")).toEqual(["r1"]);
    expect(await ids(a, "?ids=")).toEqual([]);
    expect(await ids(a, `?ids=${Array.from({ length: 10 }, (_, i) => `${i}`.repeat(100)).join(",")}`)).toEqual([]);
    const b = await register("get-space");
    await call(b, "POST", "/storage/c", { body: [{ id: "a b", payload: "x" }] });
    expect((await call(b, "GET", "/storage/c?ids=a+b")).text).toBe('["a b"]');
  });

  it("S11-9 parentid/predecessorid: exact match; NULLs never match; \"\" matches only empty strings", async () => {
    expect(await ids(a, "?parentid=P")).toEqual(["r0", "r1", "nul"]);
    expect(await ids(a, "?predecessorid=A")).toEqual(["r0"]);
    expect(await ids(a, "?predecessorid=")).toEqual(["r2"]);
    expect(await ids(a, "?parentid=")).toEqual([]);
    expect(await ids(a, "?parentid=p")).toEqual([]);
  });

  it("S11-9 older/newer: strict comparisons on hundredths; NULL modified never matches", async () => {
    expect(await ids(a, `?newer=${tsText[2]}`)).toEqual(["r3", "r4"]);
    expect(await ids(a, `?older=${tsText[2]}`)).toEqual(["r0", "r1"]);
    expect(await ids(a, `?newer=${tsText[0]}&older=${tsText[4]}`)).toEqual(["r1", "r2", "r3"]);
    expect(await ids(a, "?newer=0")).toEqual(["r0", "r1", "r2", "r3", "r4"]);
    expect(await ids(a, "?older=99999999999")).toEqual(["r0", "r1", "r2", "r3", "r4"]);
  });

  it("S11-6 / S11-9: timestamps parse with Decimal syntax and half-even quantization", async () => {
    const t1 = ts[1] as number;
    const s = (t1 / 1000).toFixed(2);
    // "<t1>4" = t1 + 0.004 → quantized to t1; newer is strict → r1 excluded.
    expect(await ids(a, `?newer=${s}4`)).toEqual(["r2", "r3", "r4"]);
    // t1 - 0.005 → half-even: rounds to the even hundredth.
    const minusHalf = (BigInt(t1 / 10) * 10n - 5n).toString();
    const text = `${minusHalf.slice(0, -3)}.${minusHalf.slice(-3)}`;
    const cs = BigInt(t1 / 10);
    const expectCs = cs % 2n === 0n ? cs : cs - 1n; // tie between cs-1 and cs goes to the even one
    expect(await ids(a, `?newer=${encodeURIComponent(text)}`)).toEqual(expectCs === cs ? ["r2", "r3", "r4"] : ["r1", "r2", "r3", "r4"]);
    expect(await ids(a, `?newer=%20${s}%20`)).toEqual(["r2", "r3", "r4"]);
    expect(await ids(a, `?newer=${s.slice(0, -3)}e0`)).toContain("r4");
    expect(await ids(a, "?older=1e3")).toEqual([]);
    expect(await ids(a, "?newer=12.")).toHaveLength(5);
    expect(await ids(a, "?newer=%2B12")).toHaveLength(5);
    expect(await ids(a, "?newer=-1")).toHaveLength(5);
    expect(await ids(a, "?older=1e400")).toHaveLength(5);
    expect(await ids(a, "?newer=1e400")).toEqual([]);
    expect(await ids(a, "?newer=-1e400")).toHaveLength(5);
  });

  it("S11-9 index_above/index_below: strict float comparisons; NULL sortindex never matches; inf/nan/1e3/whitespace accepted", async () => {
    expect(await ids(a, "?index_above=10")).toEqual(["r1", "r2"]);
    expect(await ids(a, "?index_below=10")).toEqual(["r4"]);
    expect(await ids(a, "?index_above=9.5&index_below=20.5")).toEqual(["r0", "r2"]);
    expect(await ids(a, "?index_above=-inf")).toEqual(["r0", "r1", "r2", "r4"]);
    expect(await ids(a, "?index_below=inf")).toEqual(["r0", "r1", "r2", "r4"]);
    expect(await ids(a, "?index_below=Infinity")).toEqual(["r0", "r1", "r2", "r4"]);
    expect(await ids(a, "?index_above=nan")).toEqual([]);
    expect(await ids(a, "?index_below=1e3")).toEqual(["r0", "r1", "r2", "r4"]);
    expect(await ids(a, "?index_above=%2010%20")).toEqual(["r1", "r2"]);
  });

  it("S11-9 sort: oldest = modified ASC, newest = modified DESC, index = sortindex DESC (NULLs first in ASC, last in DESC); others ignored", async () => {
    expect(await ids(a, "?sort=oldest")).toEqual(["nul", "r0", "r1", "r2", "r3", "r4"]);
    expect(await ids(a, "?sort=newest")).toEqual(["r4", "r3", "r2", "r1", "r0", "nul"]);
    const byIndex = await ids(a, "?sort=index");
    expect(byIndex.slice(0, 4)).toEqual(["r1", "r2", "r0", "r4"]);
    expect(new Set(byIndex.slice(4))).toEqual(new Set(["r3", "nul"]));
    expect(await ids(a, "?sort=NEWEST")).toEqual(["r0", "r1", "r2", "r3", "r4", "nul"]);
    expect(await ids(a, "?sort=")).toEqual(["r0", "r1", "r2", "r3", "r4", "nul"]);
  });

  it("S11-9 limit/offset: limit ≤ 0 ignored; offset only with a limit parameter (any value); offset ≤ 0 ignored", async () => {
    expect(await ids(a, "?sort=newest&limit=2")).toEqual(["r4", "r3"]);
    expect(await ids(a, "?sort=newest&limit=2&offset=2")).toEqual(["r2", "r1"]);
    expect(await ids(a, "?sort=newest&offset=2")).toHaveLength(6);
    expect(await ids(a, "?sort=newest&limit=0")).toHaveLength(6);
    expect(await ids(a, "?sort=newest&limit=-3")).toHaveLength(6);
    expect(await ids(a, "?sort=newest&limit=0&offset=4")).toEqual(["r0", "nul"]);
    expect(await ids(a, "?sort=newest&limit=-1&offset=5")).toEqual(["nul"]);
    expect(await ids(a, "?sort=newest&limit=2&offset=-1")).toEqual(["r4", "r3"]);
    expect(await ids(a, "?sort=newest&limit=%202%20&offset=%2B1")).toEqual(["r3", "r2"]);
    expect(await ids(a, "?limit=2&offset=100")).toEqual([]);
    expect(await ids(a, "?limit=99999999999999999999")).toHaveLength(6);
  });

  it("S11-9: bad numeric parameters → 400 webob text 'Invalid value for \"<param>\"', no X-Weave-Timestamp", async () => {
    for (const [q, p] of [
      ["older=abc", "older"],
      ["newer=", "newer"],
      ["newer=0x10", "newer"],
      ["older=Infinity", "older"],
      ["older=NaN", "older"],
      ["newer=sNaN", "newer"],
      ["newer=1,5", "newer"],
      ["index_above=abc", "index_above"],
      ["index_below=", "index_below"],
      ["limit=5.0", "limit"],
      ["limit=", "limit"],
      ["limit=1e3", "limit"],
      ["limit=2&offset=x", "offset"],
      ["offset=1.5", "offset"],
    ] as const) {
      const r = await call(a, "GET", `/storage/c?${q}`);
      expectError(r, 400, PLAIN, plain(400, `Invalid value for "${p}"`));
    }
  });

  it("S11-9: validation order older, newer, index_above, index_below, limit, offset — first bad one wins", async () => {
    const all = "offset=x&limit=x&index_below=x&index_above=x&newer=x&older=x";
    expect((await call(a, "GET", `/storage/c?${all}`)).text).toBe(plain(400, 'Invalid value for "older"'));
    expect((await call(a, "GET", "/storage/c?offset=x&limit=x&index_below=x&index_above=x&newer=x")).text).toBe(plain(400, 'Invalid value for "newer"'));
    expect((await call(a, "GET", "/storage/c?offset=x&limit=x&index_below=x&index_above=x")).text).toBe(plain(400, 'Invalid value for "index_above"'));
    expect((await call(a, "GET", "/storage/c?offset=x&limit=x&index_below=x")).text).toBe(plain(400, 'Invalid value for "index_below"'));
    expect((await call(a, "GET", "/storage/c?offset=x&limit=x")).text).toBe(plain(400, 'Invalid value for "limit"'));
  });

  it("S11-8.6: GET item → the record object with X-Weave-Timestamp", async () => {
    const r = await call(a, "GET", "/storage/c/r3");
    expectOk(r, `{"payload": "p3", "id": "r3", "modified": ${tsText[3]}}`);
    expect(r.headers.get("X-Weave-Records")).toBeNull();
  });

  it("S11-8.6: missing record or unknown collection → 404 webob text, no X-Weave-Timestamp", async () => {
    expectError(await call(a, "GET", "/storage/c/missing"), 404, PLAIN, plain(404));
    expectError(await call(a, "GET", "/storage/none/r3"), 404, PLAIN, plain(404));
  });

  it("S11-8.6 / S11-3.3: ?full=… on GET item accepted and ignored", async () => {
    expect((await call(a, "GET", "/storage/c/r3?full=1")).text).toBe(`{"payload": "p3", "id": "r3", "modified": ${tsText[3]}}`);
  });
});
