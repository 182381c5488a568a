/** S11-8.9 to S11-8.11: DELETE collection (filtered), DELETE item, DELETE /storage. */
import { describe, expect, it } from "vitest";
import { call, expectError, expectOk, expectWeave, PLAIN, plain, register, snapshot, tsMs, type Account } from "./_helpers";

async function seed(prefix: string): Promise<{ a: Account; t: string[] }> {
  const a = await register(prefix);
  const t: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await call(a, "PUT", `/storage/c/r${i}`, { body: { payload: `p${i}`, sortindex: [3, 1, 4, 1, 5][i], parentid: i % 2 ? "odd" : "even" } });
    t.push(r.text);
  }
  await call(a, "PUT", "/storage/other/x", { body: { payload: "keep" } });
  return { a, t };
}
const list = async (a: Account, c = "c") => (await call(a, "GET", `/storage/${c}`)).json as string[];

describe("DELETE", () => {
  it("S11-8.9 step 4: DELETE collection → 200, body = X-Weave-Timestamp (TS); other collections untouched", async () => {
    const { a } = await seed("del-col");
    const r = await call(a, "DELETE", "/storage/c");
    expectOk(r, r.headers.get("X-Weave-Timestamp") ?? "");
    expect(await list(a)).toEqual([]);
    expect(await list(a, "other")).toEqual(["x"]);
    expect(Object.keys((await call(a, "GET", "/info/collections")).json as object)).toEqual(["other"]);
  });

  it("S11-8.9: unknown collection → 200 timestamp (never 404)", async () => {
    const a = await register("del-unknown");
    const r = await call(a, "DELETE", "/storage/none");
    expectOk(r, r.headers.get("X-Weave-Timestamp") ?? "");
  });

  it("S11-8.9 step 3: filters ids, parentid, older, newer, index_above/below select what is deleted", async () => {
    const { a, t } = await seed("del-filter");
    await call(a, "DELETE", "/storage/c?ids=r0,zz");
    expect(await list(a)).toEqual(["r1", "r2", "r3", "r4"]);
    await call(a, "DELETE", "/storage/c?parentid=odd");
    expect(await list(a)).toEqual(["r2", "r4"]);
    await call(a, "DELETE", `/storage/c?newer=${t[2]}`);
    expect(await list(a)).toEqual(["r2"]);
    await call(a, "DELETE", "/storage/c?index_above=4");
    expect(await list(a)).toEqual(["r2"]);
    await call(a, "DELETE", "/storage/c?index_below=4.5&older=9999999999");
    expect(await list(a)).toEqual([]);
  });

  it("S11-8.9 (recommended): limit/offset/sort select the rows exactly as GET would", async () => {
    const { a } = await seed("del-limit");
    await call(a, "DELETE", "/storage/c?sort=index&limit=2");
    expect(await list(a)).toEqual(["r0", "r1", "r3"]);
    await call(a, "DELETE", "/storage/c?sort=newest&limit=1&offset=1");
    expect(await list(a)).toEqual(["r0", "r3"]);
    await call(a, "DELETE", "/storage/c?sort=oldest&limit=1");
    expect(await list(a)).toEqual(["r3"]);
  });

  it("S11-8.9 step 1: bad numeric parameters → 400 text, parsed before X-If-Unmodified-Since; nothing deleted", async () => {
    const { a, t } = await seed("del-bad");
    const before = await snapshot(a);
    for (const [q, p] of [
      ["older=x", "older"],
      ["newer=", "newer"],
      ["index_above=z", "index_above"],
      ["limit=1.5", "limit"],
      ["limit=1&offset=q", "offset"],
    ] as const) {
      const stale = ((tsMs(t[0] as string) - 10) / 1000).toFixed(2);
      const r = await call(a, "DELETE", `/storage/c?${q}`, { headers: { "X-If-Unmodified-Since": stale } });
      expectError(r, 400, PLAIN, plain(400, `Invalid value for "${p}"`));
    }
    expect(await snapshot(a)).toEqual(before);
  });

  it("S11-8.9 step 2 / S11-10: DELETE collection with stale X-If-Unmodified-Since → 412, nothing deleted; equal passes", async () => {
    const { a, t } = await seed("del-412");
    const last = t[4] as string;
    const before = await snapshot(a);
    const stale = ((tsMs(last) - 10) / 1000).toFixed(2);
    expectError(await call(a, "DELETE", "/storage/c", { headers: { "X-If-Unmodified-Since": stale } }), 412, PLAIN, plain(412, "c"));
    expectError(await call(a, "DELETE", "/storage/c/r0", { headers: { "X-If-Unmodified-Since": stale } }), 412, PLAIN, plain(412, "c"));
    expect(await snapshot(a)).toEqual(before);
    expectOk(await call(a, "DELETE", "/storage/c/r0", { headers: { "X-If-Unmodified-Since": last } }));
    expectOk(await call(a, "DELETE", "/storage/c", { headers: { "X-If-Unmodified-Since": last } }));
    expect(await list(a)).toEqual([]);
  });

  it("S11-8.10: DELETE item → 200 timestamp; missing record / unknown collection → still 200", async () => {
    const { a } = await seed("del-item");
    const r = await call(a, "DELETE", "/storage/c/r1");
    expectOk(r, r.headers.get("X-Weave-Timestamp") ?? "");
    expect(await list(a)).toEqual(["r0", "r2", "r3", "r4"]);
    expectOk(await call(a, "DELETE", "/storage/c/r1"));
    expectOk(await call(a, "DELETE", "/storage/none/r1"));
    expectError(await call(a, "GET", "/storage/c/r1"), 404, PLAIN, plain(404));
  });

  it("S11-8.1 / S11-8.10: after deleting the newest record the collection timestamp goes backwards (SQL semantics)", async () => {
    const { a, t } = await seed("del-back");
    await call(a, "DELETE", "/storage/c/r4");
    expect((await call(a, "GET", "/info/collections")).json).toMatchObject({ c: Number(t[3]) });
  });

  it("S11-8.11: DELETE /storage without X-Confirm-Delete → 400 4, nothing deleted", async () => {
    const { a } = await seed("del-all-noconfirm");
    const before = await snapshot(a);
    expectWeave(await call(a, "DELETE", "/storage"), 4);
    expect(await snapshot(a)).toEqual(before);
  });

  it("S11-8.11: DELETE /storage with X-Confirm-Delete (any value, even empty) → 200 timestamp, everything gone", async () => {
    const { a } = await seed("del-all");
    const r = await call(a, "DELETE", "/storage", { headers: { "X-Confirm-Delete": "" } });
    expectOk(r, r.headers.get("X-Weave-Timestamp") ?? "");
    expect((await call(a, "GET", "/info/collections")).text).toBe("{}");
    expect((await call(a, "GET", "/info/quota")).text).toBe("[0.0, 5120]");
    expect(await list(a)).toEqual([]);
  });

  it("S11-8.11 / S11-10: DELETE /storage ignores X-If-Unmodified-Since (even stale or unparsable)", async () => {
    const { a } = await seed("del-all-ius");
    for (const h of ["1", "garbage"]) {
      const r = await call(a, "DELETE", "/storage", { headers: { "X-Confirm-Delete": "1", "X-If-Unmodified-Since": h } });
      expectOk(r);
    }
    expect((await call(a, "GET", "/info/collections")).text).toBe("{}");
  });

  it("S11-8.11 / S11-8.1: after DELETE /storage, writes work again and timestamps do not go backwards", async () => {
    const { a } = await seed("del-all-after");
    const d = await call(a, "DELETE", "/storage", { headers: { "X-Confirm-Delete": "1" } });
    const w = await call(a, "PUT", "/storage/c/new", { body: { payload: "n" } });
    expect(tsMs(w.text)).toBeGreaterThanOrEqual(tsMs(d.text));
    expect((await call(a, "GET", "/storage/c")).text).toBe('["new"]');
  });
});
