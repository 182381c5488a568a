/**
 * Storage API 1.5 conformance, one test per rule of docs/protocol/storage-1.5.md, named by
 * section. Runs inside workerd through the real Worker (SELF): each client
 * signs in at the tokenserver with a mock Mozilla account and signs its
 * requests with Hawk (see helpers/sync15.ts).
 */
import { describe, expect, it } from "vitest";
import { Client15, fmt, raw, tsMs, type Reply } from "../helpers/sync15";

const bso = (id: string, extra: Record<string, unknown> = {}) => ({ id, payload: `p-${id}`, ...extra });
const lm = (r: Reply) => tsMs(r.headers.get("X-Last-Modified"));
const wt = (r: Reply) => tsMs(r.headers.get("X-Weave-Timestamp"));

describe("S15-2 routing", () => {
  it("S15-2: unknown path → 404 body 0", async () => {
    const c = await Client15.create();
    for (const p of ["/nope", "/storage/a/b/c", "/info/collections/"]) {
      const r = await c.get(p);
      expect(r.status, p).toBe(404);
      expect(r.text).toBe("0");
    }
    const r = await raw("GET", "/1.5/abc/info/collections");
    expect(r.status).toBe(404);
  });
  it("S15-2: invalid collection or id → 404 before auth", async () => {
    const c = await Client15.create();
    expect((await c.get("/storage/" + "x".repeat(33), { as: null })).status).toBe(404);
    expect((await c.get("/storage/bad!name", { as: null })).status).toBe(404);
    expect((await c.get("/storage/col/" + "x".repeat(65))).status).toBe(404);
    expect((await c.get("/storage/col/a%0Ab")).status).toBe(404);
  });
  it("S15-2: PATCH on a collection → 405", async () => {
    const c = await Client15.create();
    const r = await c.call("PATCH", "/storage/col");
    expect(r.status).toBe(405);
    expect((await c.call("POST", "/info/collections")).status).toBe(405);
    expect((await c.call("HEAD", "/info/collections")).status).toBe(405);
    expect((await c.call("HEAD", "/storage/col")).status).toBe(405);
  });
  it("S15-2: ids with spaces and printable ASCII are valid", async () => {
    const c = await Client15.create();
    expect((await c.put("/storage/col/a%20b~!", { payload: "x" })).status).toBe(200);
    const g = await c.get("/storage/col/a%20b~!");
    expect(g.status).toBe(200);
    expect((g.json as { id: string }).id).toBe("a b~!");
  });
});

describe("S15-3 authentication", () => {
  it("S15-3: no principal → 401 body 0", async () => {
    const c = await Client15.create();
    const r = await c.get("/info/collections", { as: null });
    expect(r.status).toBe(401);
    expect(r.text).toBe("0");
  });
  it("S15-3: expired token accepted on GET info/collections only", async () => {
    const c = await Client15.create();
    const as = `${c.uid};expired`;
    expect((await c.get("/info/collections", { as })).status).toBe(200);
    expect((await c.get("/storage/col", { as })).status).toBe(401);
    expect((await c.post("/storage/col", [bso("a")], { as })).status).toBe(401);
    expect((await c.get("/info/quota", { as })).status).toBe(401);
  });
  it("S15-3: token uid ≠ path uid → 400 body 0", async () => {
    const c = await Client15.create();
    const r = await c.get("/info/collections", { as: String(c.uid + 1) });
    expect(r.status).toBe(400);
    expect(r.text).toBe("0");
    expect((await c.put("/storage/col/x", { payload: "x" }, { as: String(c.uid + 1) })).status).toBe(400);
  });
  it("S15-3: a uid never reaches another uid's data", async () => {
    const a = await Client15.create();
    const b = await Client15.create();
    await a.put("/storage/col/x", { payload: "secret" });
    expect((await b.get("/storage/col/x")).status).toBe(404);
    expect((await b.get("/info/collections")).json).toEqual({});
  });
});

describe("S15-4 data model", () => {
  it("S15-4.1: PUT validation → 400 body 8", async () => {
    const c = await Client15.create();
    const bad: unknown[] = [
      { payload: 42 },
      { sortindex: "12" },
      { sortindex: 2.5 },
      { sortindex: 1000000000 },
      { ttl: -1 },
      { ttl: "eh?" },
      { ttl: 4.2 },
      { ttl: 1000000000 },
      { id: "A\nB", payload: "x" },
      { id: 12, payload: "x" },
      { payload: "x", parentid: "p" },
      { payload: "x", foo: 1 },
      "notanobject",
      [],
    ];
    for (const b of bad) {
      const r = await c.put("/storage/col/x", b);
      expect(r.status, JSON.stringify(b)).toBe(400);
      expect(r.text).toBe("8");
    }
    const r = await c.put("/storage/col/x", { sortindex: -999999999, ttl: 999999999, modified: 1, collection: "z" });
    expect(r.status).toBe(200);
  });
  it("S15-4.1: ids in POST — invalid id, unknown field fail per item", async () => {
    const c = await Client15.create();
    const r = await c.post("/storage/col", [
      bso("ok"),
      { id: "A\n", payload: "x" },
      { id: "x".repeat(65), payload: "x" },
      { id: "u", payload: "x", bogus: 1 },
      { id: "s", sortindex: "12" },
      { id: "t", ttl: -12 },
      { id: "p", payload: 42 },
    ]);
    expect(r.status).toBe(200);
    const j = r.json as { success: string[]; failed: Record<string, string> };
    expect(j.success).toEqual(["ok"]);
    expect(Object.keys(j.failed).sort()).toEqual(["A\n", "p", "s", "t", "u", "x".repeat(65)].sort());
    expect(j.failed.u).toBe("unknown field bogus");
  });
  it("S15-4.1: responses never echo ttl or internal fields; sortindex only when set", async () => {
    const c = await Client15.create();
    await c.put("/storage/col/a", { payload: "x", ttl: 100 });
    await c.put("/storage/col/b", { payload: "y", sortindex: 3 });
    const a = (await c.get("/storage/col/a")).json as Record<string, unknown>;
    expect(Object.keys(a).sort()).toEqual(["id", "modified", "payload"]);
    const b = (await c.get("/storage/col/b")).json as Record<string, unknown>;
    expect(Object.keys(b).sort()).toEqual(["id", "modified", "payload", "sortindex"]);
    const l = (await c.get("/storage/col?full=1")).json as Array<Record<string, unknown>>;
    for (const r of l) for (const k of Object.keys(r)) expect(["id", "modified", "payload", "sortindex"]).toContain(k);
  });
  it("S15-4.2: ttl 0 hides the record from reads, counts, usage", async () => {
    const c = await Client15.create();
    await c.put("/storage/col/a", { payload: "xx", ttl: 0 });
    await c.put("/storage/col/b", { payload: "yy" });
    expect((await c.get("/storage/col/a")).status).toBe(404);
    expect((await c.get("/storage/col")).json).toEqual(["b"]);
    expect((await c.get("/info/collection_counts")).json).toEqual({ col: 1 });
    expect((await c.get("/info/collection_usage")).json).toEqual({ col: 2 / 1024 });
    expect((await c.del("/storage/col/a")).status).toBe(404);
    // but info/collections still lists the collection
    expect(Object.keys((await c.get("/info/collections")).json as object)).toEqual(["col"]);
  });
  it("S15-4.2: an expired record can be overwritten via PUT and starts from defaults", async () => {
    const c = await Client15.create();
    await c.put("/storage/col/a", { payload: "old", sortindex: 5, ttl: 0 });
    const r = await c.put("/storage/col/a", { ttl: 100 });
    expect(r.status).toBe(200);
    const g = await c.get("/storage/col/a");
    expect(g.status).toBe(200);
    expect(g.json).toEqual({ id: "a", modified: Number(r.text), payload: "" });
  });
  it("S15-4.2 S15-8.1: a ttl-only update changes expiry but not modified", async () => {
    const c = await Client15.create();
    const first = await c.put("/storage/col/a", { payload: "x" });
    const upd = await c.put("/storage/col/a", { ttl: 1000 });
    expect(upd.status).toBe(200);
    const g = await c.get("/storage/col/a");
    expect((g.json as { modified: number }).modified).toBe(Number(first.text));
    await c.put("/storage/col/a", { ttl: 0 });
    expect((await c.get("/storage/col/a")).status).toBe(404);
  });
  it("S15-4.3: collections persist after their records are deleted; DELETE collection removes them", async () => {
    const c = await Client15.create();
    await c.put("/storage/col/a", { payload: "x" });
    const d = await c.del("/storage/col/a");
    expect(d.status).toBe(200);
    const info = (await c.get("/info/collections")).json as Record<string, number>;
    expect(info.col).toBe((d.json as { modified: number }).modified);
    await c.del("/storage/col");
    expect((await c.get("/info/collections")).json).toEqual({});
  });
  it("S15-4.3: an empty non-batch POST creates the collection", async () => {
    const c = await Client15.create();
    const r = await c.post("/storage/empty", []);
    expect(r.status).toBe(200);
    const info = (await c.get("/info/collections")).json as Record<string, number>;
    expect(info.empty).toBe((r.json as { modified: number }).modified);
  });
});

describe("S15-5 timestamps", () => {
  it("S15-5.1: timestamps have exactly two decimals in headers and bodies", async () => {
    const c = await Client15.create();
    const put = await c.put("/storage/meta/global", { payload: "x" });
    expect(put.text).toMatch(/^\d+\.\d\d$/);
    const g = await c.get("/storage/meta/global");
    expect(g.text).toMatch(/"modified":\d+\.\d\d[,}]/);
    expect(g.headers.get("X-Last-Modified")).toMatch(/^\d+\.\d\d$/);
    expect((await c.get("/info/collections")).text).toMatch(/^\{"meta":\d+\.\d\d\}$/);
    const p = await c.post("/storage/col", [bso("a")]);
    expect(p.text).toMatch(/"modified":\d+\.\d\d,/);
  });
  it("S15-5.2: one timestamp per request for all its records, the collection and the headers", async () => {
    const c = await Client15.create();
    const p = await c.post("/storage/col", [bso("a"), bso("b"), bso("c")]);
    const t = Number((p.json as { modified: number }).modified);
    const l = (await c.get("/storage/col?full=1")).json as Array<{ modified: number }>;
    expect(l.map((r) => r.modified)).toEqual([t, t, t]);
    expect(lm(p)).toBe(Math.round(t * 1000));
    expect(wt(p)).toBe(Math.round(t * 1000));
  });
  it("S15-5.3: storage timestamp advances on collection deletion (tombstone) and never falls back", async () => {
    const c = await Client15.create();
    const p = await c.put("/storage/col/a", { payload: "x" });
    const d = await c.del("/storage/col");
    expect(d.status).toBe(200);
    const dt = tsMs(d.text);
    expect(dt).toBeGreaterThan(tsMs(p.text));
    const info = await c.get("/info/collections");
    expect(info.json).toEqual({});
    expect(lm(info)).toBe(dt);
    const all = await c.del("/storage");
    const after = await c.get("/info/collections");
    expect(lm(after)).toBeGreaterThanOrEqual(wt(all));
    expect(lm(after)).toBeGreaterThan(dt);
  });
  it("S15-5.4: consecutive writes get strictly increasing timestamps", async () => {
    const c = await Client15.create();
    let last = 0;
    for (let i = 0; i < 5; i++) {
      const r = await c.put("/storage/col/a", { payload: String(i) });
      const t = tsMs(r.text);
      expect(t).toBeGreaterThan(last);
      last = t;
    }
  });
  it("S15-5.5: X-Last-Modified on every 2xx/304 with the right level", async () => {
    const c = await Client15.create();
    const put = await c.put("/storage/col/a", { payload: "x" });
    const T = tsMs(put.text);
    expect(lm(put)).toBe(T);
    expect(lm(await c.get("/storage/col/a"))).toBe(T);
    expect(lm(await c.get("/storage/col"))).toBe(T);
    expect(lm(await c.get("/storage/none"))).toBe(0);
    for (const p of ["collections", "collection_counts", "collection_usage", "quota"]) expect(lm(await c.get(`/info/${p}`)), p).toBe(T);
    expect((await c.get("/info/configuration")).headers.get("X-Last-Modified")).toBe("0.00");
    const b = await c.post("/storage/col?batch=true", [bso("z")]);
    expect(b.status).toBe(202);
    expect(lm(b)).toBe(T);
    const nm = await c.get("/storage/col", { headers: { "X-If-Modified-Since": fmt(T) } });
    expect(nm.status).toBe(304);
    expect(lm(nm)).toBe(T);
    const da = await c.del("/storage");
    expect(lm(da)).toBe(T);
  });
  it("S15-5.6: X-Weave-Timestamp on every response, ≥ X-Last-Modified and ≥ client clock", async () => {
    const c = await Client15.create();
    const before = Date.now();
    const r = await c.get("/info/collections");
    expect(wt(r)).toBeGreaterThanOrEqual(Math.floor(before / 10) * 10 - 10);
    const put = await c.put("/storage/meta/global", { payload: "x" });
    expect(wt(put)).toBe(tsMs(put.text));
    const g = await c.get("/storage/meta/global");
    expect(wt(g)).toBeGreaterThanOrEqual(lm(g));
    for (const e of [await c.get("/nope"), await c.get("/info/collections", { as: null }), await c.call("PATCH", "/storage/x")]) {
      expect(e.headers.get("X-Weave-Timestamp")).toMatch(/^\d+\.\d\d$/);
    }
  });
});

describe("S15-6 info", () => {
  it("S15-6.1: info/collections lists every collection with X-Weave-Records", async () => {
    const c = await Client15.create();
    expect((await c.get("/info/collections")).json).toEqual({});
    await c.put("/storage/a/1", { payload: "x" });
    await c.put("/storage/b/1", { payload: "x" });
    const r = await c.get("/info/collections");
    expect(Object.keys(r.json as object).sort()).toEqual(["a", "b"]);
    expect(r.headers.get("X-Weave-Records")).toBe("2");
  });
  it("S15-6.2 S15-6.3: counts and usage of visible records, UTF-8 bytes", async () => {
    const c = await Client15.create();
    await c.post("/storage/col", [bso("a", { payload: "é".repeat(10) }), bso("b", { payload: "x".repeat(500) })]);
    const counts = await c.get("/info/collection_counts");
    expect(counts.json).toEqual({ col: 2 });
    expect(counts.headers.get("X-Weave-Records")).toBe("1");
    expect((await c.get("/info/collection_usage")).json).toEqual({ col: 520 / 1024 });
  });
  it("S15-6.4: info/quota grows by exactly 500/1024 for a 500-byte payload", async () => {
    const c = await Client15.create();
    const q1 = (await c.get("/info/quota")).json as [number, number | null];
    await c.put("/storage/col/a", { payload: "x".repeat(500) });
    const q2 = (await c.get("/info/quota")).json as [number, number | null];
    expect(q2[0] - q1[0]).toBe(500 / 1024);
    expect(q2[1]).toBeNull();
  });
  it("S15-6.5: info/configuration has the six limits", async () => {
    const c = await Client15.create();
    const r = await c.get("/info/configuration");
    expect(r.status).toBe(200);
    const j = r.json as Record<string, number>;
    for (const k of ["max_request_bytes", "max_post_records", "max_post_bytes", "max_total_records", "max_total_bytes", "max_record_payload_bytes"]) {
      expect(typeof j[k], k).toBe("number");
    }
    expect(j.max_record_payload_bytes).toBeLessThan(2_000_000);
  });
  it("S15-6.6: DELETE /storage and DELETE /1.5/{uid} wipe everything", async () => {
    for (const path of ["/storage", ""]) {
      const c = await Client15.create();
      await c.put("/storage/col/a", { payload: "x" });
      await c.post("/storage/col2?batch=true", [bso("b")]);
      const d = await c.del(path);
      expect(d.status).toBe(200);
      expect(d.json).toBeNull();
      expect((await c.get("/info/collections")).json).toEqual({});
      expect((await c.get("/storage/col")).json).toEqual([]);
    }
  });
  it("S15-6.6: DELETE /storage honours X-If-Unmodified-Since on the storage timestamp", async () => {
    const c = await Client15.create();
    const p = await c.put("/storage/col/a", { payload: "x" });
    const r = await c.del("/storage", { headers: { "X-If-Unmodified-Since": fmt(tsMs(p.text) - 10) } });
    expect(r.status).toBe(412);
    expect((await c.get("/storage/col/a")).status).toBe(200);
  });
});

describe("S15-7 reading", () => {
  async function tenItems(c: Client15) {
    // Ten items with distinct timestamps, oldest first.
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      await c.put(`/storage/col/i${i}`, { payload: String(i), sortindex: i });
      ids.push(`i${i}`);
    }
    return ids;
  }
  it("S15-7.1: nonexistent collection → 200 [] with X-Last-Modified 0.00; unknown params ignored", async () => {
    const c = await Client15.create();
    const r = await c.get("/storage/nothing?blabla=1");
    expect(r.status).toBe(200);
    expect(r.json).toEqual([]);
    expect(r.headers.get("X-Last-Modified")).toBe("0.00");
  });
  it("S15-7.1: invalid newer/older/limit/offset/sort/ids → 400 body 0", async () => {
    const c = await Client15.create();
    for (const q of ["newer=x", "newer=-1", "older=abc", "limit=-1", "limit=1.5", "offset=x", "sort=random", `ids=${"a,".repeat(101)}a`, "ids=a%0Ab"]) {
      const r = await c.get(`/storage/col?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.text).toBe("0");
    }
  });
  it("S15-7.1: ids, newer, older, full filters", async () => {
    const c = await Client15.create();
    const a = await c.put("/storage/col/a", { payload: "1" });
    const b = await c.put("/storage/col/b", { payload: "2" });
    const d = await c.put("/storage/col/c", { payload: "3" });
    expect((await c.get("/storage/col?ids=a%2Cc&sort=oldest")).json).toEqual(["a", "c"]);
    expect((await c.get("/storage/col?ids= a , ,b&sort=oldest")).json).toEqual(["a", "b"]);
    expect((await c.get(`/storage/col?newer=${a.text}&sort=oldest`)).json).toEqual(["b", "c"]);
    expect((await c.get(`/storage/col?older=${d.text}&sort=oldest`)).json).toEqual(["a", "b"]);
    expect((await c.get(`/storage/col?newer=${a.text}&older=${d.text}`)).json).toEqual(["b"]);
    const full = (await c.get(`/storage/col?full&ids=b`)).json;
    expect(full).toEqual([{ id: "b", modified: Number(b.text), payload: "2" }]);
    expect((await c.get(`/storage/col?full=`)).json).toHaveLength(3);
  });
  it("S15-7.2: sort orders newest, oldest, index", async () => {
    const c = await Client15.create();
    const ids = await tenItems(c);
    expect((await c.get("/storage/col?sort=oldest")).json).toEqual(ids);
    expect((await c.get("/storage/col?sort=newest")).json).toEqual([...ids].reverse());
    expect((await c.get("/storage/col?sort=index")).json).toEqual([...ids].reverse());
    expect((await c.get("/storage/col")).json).toEqual([...ids].reverse());
  });
  it("S15-7.3: limit/offset pagination with X-Weave-Next-Offset", async () => {
    const c = await Client15.create();
    const ids = await tenItems(c);
    const p1 = await c.get("/storage/col?sort=oldest&limit=2");
    expect(p1.json).toEqual(ids.slice(0, 2));
    const t1 = p1.headers.get("X-Weave-Next-Offset");
    expect(t1).toMatch(/^[A-Za-z0-9:_-]+$/);
    const p2 = await c.get(`/storage/col?sort=oldest&limit=3&offset=${t1}`);
    expect(p2.json).toEqual(ids.slice(2, 5));
    const t2 = p2.headers.get("X-Weave-Next-Offset");
    const rest = await c.get(`/storage/col?sort=oldest&offset=${t2}`);
    expect(rest.json).toEqual(ids.slice(5));
    expect(rest.headers.get("X-Weave-Next-Offset")).toBeNull();
    const big = await c.get(`/storage/col?sort=oldest&limit=10000&offset=${t2}`);
    expect(big.json).toEqual(ids.slice(5));
    expect(big.headers.get("X-Weave-Next-Offset")).toBeNull();
    const zero = await c.get("/storage/col?limit=0");
    expect(zero.json).toEqual([]);
    expect(zero.headers.get("X-Weave-Next-Offset")).toBeNull();
    // full listings page identically
    const f = await c.get(`/storage/col?full=1&sort=newest&limit=4`);
    expect((f.json as Array<{ id: string }>).map((r) => r.id)).toEqual([...ids].reverse().slice(0, 4));
    expect(f.headers.get("X-Weave-Next-Offset")).toBe("4");
  });
  it("S15-7.3: pagination over groups of identical timestamps with newer/older", async () => {
    const c = await Client15.create();
    const groups: string[][] = [];
    const stamps: string[] = [];
    for (let g = 0; g < 3; g++) {
      const ids = [0, 1, 2, 3, 4].map((i) => `g${g}-${i}`);
      const r = await c.post("/storage/col", ids.map((id) => bso(id)));
      groups.push(ids);
      stamps.push(r.headers.get("X-Last-Modified") as string);
    }
    for (let limit = 2; limit <= 6; limit++) {
      for (const [q, expected] of [
        [`newer=${stamps[0]}&sort=oldest`, [...(groups[1] as string[]), ...(groups[2] as string[])]],
        [`older=${stamps[2]}&sort=newest`, [...(groups[1] as string[])].reverse().concat([...(groups[0] as string[])].reverse())],
      ] as const) {
        const got: string[] = [];
        let token: string | null = null;
        for (let i = 0; i < 20; i++) {
          const r: Reply = await c.get(`/storage/col?${q}&limit=${limit}${token ? `&offset=${token}` : ""}`);
          got.push(...(r.json as string[]));
          token = r.headers.get("X-Weave-Next-Offset");
          if (!token) break;
        }
        expect(got, `${q} limit=${limit}`).toEqual(expected);
      }
    }
  });
  it("S15-7.3: the ms:n offset form is accepted and checked against newer/older", async () => {
    const c = await Client15.create();
    const ids = await tenItems(c);
    const third = await c.get("/storage/col/i2");
    const t = third.headers.get("X-Last-Modified") as string;
    const ms = tsMs(t);
    const r = await c.get(`/storage/col?sort=newest&offset=${ms}:1`);
    expect(r.json).toEqual(["i1", "i0"]);
    expect((await c.get(`/storage/col?sort=oldest&offset=${ms}:0`)).json).toEqual(ids.slice(2));
    expect((await c.get(`/storage/col?newer=${fmt(ms + 10)}&offset=${ms}:0`)).status).toBe(400);
    // the next page keeps the bound
    const p1 = await c.get(`/storage/col?sort=newest&limit=1&offset=${ms}:0`);
    expect(p1.json).toEqual(["i2"]);
    expect(p1.headers.get("X-Weave-Next-Offset")).toBe(`${ms}:1`);
    await c.put("/storage/col/newer", { payload: "x" });
    expect((await c.get(`/storage/col?sort=newest&limit=1&offset=${ms}:1`)).json).toEqual(["i1"]);
  });
  it("S15-7.4: application/newlines output and Accept negotiation (406)", async () => {
    const c = await Client15.create();
    await c.put("/storage/col/a", { payload: "line1\nline2" });
    await c.put("/storage/col/b", { payload: "x" });
    const nl = await c.get("/storage/col?full=1&sort=oldest", { headers: { Accept: "application/newlines" } });
    expect(nl.headers.get("Content-Type")).toBe("application/newlines");
    const lines = nl.text.split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe("");
    expect(JSON.parse(lines[0] as string).payload).toBe("line1\nline2");
    const ids = await c.get("/storage/col?sort=oldest", { headers: { Accept: "application/newlines" } });
    expect(ids.text).toBe('"a"\n"b"\n');
    expect((await c.get("/storage/col", { headers: { Accept: "x/yy" } })).status).toBe(406);
    expect((await c.get("/storage/col", { headers: { Accept: "x/yy" } })).text).toBe("0");
    expect((await c.get("/storage/col", { headers: { Accept: "*/*" } })).headers.get("Content-Type")).toBe("application/json");
    expect((await c.get("/storage/col", { headers: { Accept: "application/json;q=0.5, application/newlines" } })).headers.get("Content-Type")).toBe(
      "application/newlines",
    );
    expect((await c.get("/storage/col", { headers: { Accept: "text/plain" } })).status).toBe(200);
  });
  it("S15-7.5: X-Weave-Records counts this response", async () => {
    const c = await Client15.create();
    await c.post("/storage/col", [bso("a"), bso("b"), bso("c")]);
    expect((await c.get("/storage/col?limit=2")).headers.get("X-Weave-Records")).toBe("2");
  });
  it("S15-7.6: GET of a missing record or collection → 404 body 0", async () => {
    const c = await Client15.create();
    const r = await c.get("/storage/none/x");
    expect(r.status).toBe(404);
    expect(r.text).toBe("0");
  });
});

describe("S15-8 writing", () => {
  it("S15-8.1: PUT creates with defaults and returns T as a bare number", async () => {
    const c = await Client15.create();
    const r = await c.put("/storage/col/a", {});
    expect(r.status).toBe(200);
    expect(r.text).toMatch(/^\d+\.\d\d$/);
    expect(r.headers.get("X-Last-Modified")).toBe(r.text);
    expect((await c.get("/storage/col/a")).json).toEqual({ id: "a", modified: Number(r.text), payload: "" });
  });
  it("S15-8.1: PUT updates only supplied fields; URL id wins", async () => {
    const c = await Client15.create();
    await c.put("/storage/col/a", { payload: "x", sortindex: 4 });
    const r = await c.put("/storage/col/a", { id: "other", sortindex: 7 });
    expect((await c.get("/storage/col/a")).json).toEqual({ id: "a", modified: Number(r.text), payload: "x", sortindex: 7 });
    expect((await c.get("/storage/col/other")).status).toBe(404);
  });
  it("S15-8.1: Content-Type: octet-stream → 415 and nothing stored; text/plain accepted", async () => {
    const c = await Client15.create();
    const r = await c.call("PUT", "/storage/col/a", { raw: '{"payload":"x"}', headers: { "Content-Type": "application/octet-stream" } });
    expect(r.status).toBe(415);
    expect((await c.get("/storage/col/a")).status).toBe(404);
    const t = await c.call("PUT", "/storage/col/a", { raw: '{"payload":"x"}', headers: { "Content-Type": "text/plain; charset=utf-8" } });
    expect(t.status).toBe(200);
    const p = await c.call("POST", "/storage/col", { raw: '[{"id":"b"}]', headers: { "Content-Type": "application/octet-stream" } });
    expect(p.status).toBe(415);
    expect((await c.get("/storage/col/b")).status).toBe(404);
  });
  it("S15-8.1: body over max_request_bytes → 413 body 17", async () => {
    const c = await Client15.create();
    const conf = (await c.get("/info/configuration")).json as Record<string, number>;
    const payload = "x".repeat((conf.max_request_bytes as number) + 1);
    const r = await c.call("PUT", "/storage/col/a", { raw: JSON.stringify({ payload }), headers: { "Content-Type": "application/json" } });
    expect(r.status).toBe(413);
    expect(r.text).toBe("17");
  });
  it("S15-8.1: payload over max_record_payload_bytes → 400 body 8; at the limit accepted", async () => {
    const c = await Client15.create();
    const conf = (await c.get("/info/configuration")).json as Record<string, number>;
    const max = conf.max_record_payload_bytes as number;
    expect((await c.put("/storage/col/a", { payload: "x".repeat(max + 1) })).text).toBe("8");
    const ok = await c.put("/storage/col/a", { payload: "x".repeat(max) });
    expect(ok.status).toBe(200);
    expect(((await c.get("/storage/col/a")).json as { payload: string }).payload).toHaveLength(max);
  });
  it("S15-8.2: POST result with success and failed, modified = T", async () => {
    const c = await Client15.create();
    const r = await c.post("/storage/col", [bso("a"), bso("b", { sortindex: "bad" })]);
    expect(r.status).toBe(200);
    const j = r.json as { modified: number; success: string[]; failed: Record<string, string> };
    expect(j.success).toEqual(["a"]);
    expect(Object.keys(j.failed)).toEqual(["b"]);
    expect(r.headers.get("X-Last-Modified")).toBe(fmt(Math.round(j.modified * 1000)));
  });
  it("S15-8.2: whole-request rejections → 400 body 8, nothing written", async () => {
    const c = await Client15.create();
    for (const body of ['"notalist"', "42", "{}", "", '[{"id":"a"},"BAD"]', '[{"payload":"x"}]', '[{"id":12}]', '[{"id":"a"},{"id":"a"}]', "[{"]) {
      const r = await c.call("POST", "/storage/col", { raw: body, headers: { "Content-Type": "application/json" } });
      expect(r.status, body).toBe(400);
      expect(r.text).toBe("8");
    }
    expect((await c.get("/info/collections")).json).toEqual({});
  });
  it("S15-8.2: application/newlines input", async () => {
    const c = await Client15.create();
    const nl = (body: string) => c.call("POST", "/storage/col", { raw: body, headers: { "Content-Type": "application/newlines" } });
    const r = await nl('{"id":"a","payload":"1"}\r\n{"id":"b","payload":"2"}\n');
    expect((r.json as { success: string[] }).success).toEqual(["a", "b"]);
    expect((await nl("")).status).toBe(200);
    expect((await nl("\n")).status).toBe(400);
    expect((await nl("[]")).status).toBe(400);
    expect((await nl('{"id":"c"}\n\n{"id":"d"}')).status).toBe(400);
  });
  it("S15-8.2: max_post_records − 5 succeed; max_post_records + 5 → surplus 'retry bso'", async () => {
    const c = await Client15.create();
    const conf = (await c.get("/info/configuration")).json as Record<string, number>;
    const n = conf.max_post_records as number;
    const small = Array.from({ length: n - 5 }, (_, i) => ({ id: `s${i}`, payload: "x" }));
    const r1 = (await c.post("/storage/col", small)).json as { success: string[]; failed: object };
    expect(r1.success).toHaveLength(n - 5);
    expect(r1.failed).toEqual({});
    const big = Array.from({ length: n + 5 }, (_, i) => ({ id: `b${i}`, payload: "x" }));
    const r2 = (await c.post("/storage/col", big)).json as { success: string[]; failed: Record<string, string> };
    expect(r2.success).toHaveLength(n);
    expect(Object.keys(r2.failed)).toEqual(big.slice(n).map((b) => b.id));
    expect(Object.values(r2.failed).every((v) => v === "retry bso")).toBe(true);
  });
  it("S15-8.2: items beyond max_post_bytes fail with 'retry bytes'", async () => {
    const c = await Client15.create();
    const conf = (await c.get("/info/configuration")).json as Record<string, number>;
    const maxPost = conf.max_post_bytes as number;
    const size = 227 * 1024;
    const n = Math.floor(maxPost / size);
    const items = Array.from({ length: n }, (_, i) => ({ id: `i${i}`, payload: "x".repeat(size) }));
    items.push({ id: "last", payload: "x".repeat(maxPost - n * size + 1) });
    // Send as raw to stay under max_request_bytes framing
    const r = await c.post("/storage/col", items);
    expect(r.status).toBe(200);
    const j = r.json as { success: string[]; failed: Record<string, string> };
    expect(j.success).toHaveLength(n);
    expect(j.failed).toEqual({ last: "retry bytes" });
  });
  it("S15-8.2: X-Weave-Records / X-Weave-Bytes over the limits → 400 body 17; non-integer → 400", async () => {
    const c = await Client15.create();
    const conf = (await c.get("/info/configuration")).json as Record<string, number>;
    const r1 = await c.post("/storage/col", [], { headers: { "X-Weave-Records": String((conf.max_post_records as number) + 1) } });
    expect(r1.status).toBe(400);
    expect(r1.text).toBe("17");
    const r2 = await c.post("/storage/col", [], { headers: { "X-Weave-Bytes": String((conf.max_post_bytes as number) + 1) } });
    expect(r2.text).toBe("17");
    expect((await c.post("/storage/col", [], { headers: { "X-Weave-Records": "abc" } })).status).toBe(400);
    expect((await c.post("/storage/col", [], { headers: { "X-Weave-Records": "3" } })).status).toBe(200);
  });
});

describe("S15-9 batches", () => {
  it("S15-9.2: batch=true creates a batch (202) and staging changes nothing visible", async () => {
    const c = await Client15.create();
    const before = await c.get("/info/collections");
    const r = await c.post("/storage/col?batch=true", [bso("a"), bso("b", { ttl: "x" })]);
    expect(r.status).toBe(202);
    const j = r.json as Record<string, unknown>;
    expect(typeof j.batch).toBe("string");
    expect(j.batch as string).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(j.modified).toBeUndefined();
    expect(j.success).toEqual(["a"]);
    expect(Object.keys(j.failed as object)).toEqual(["b"]);
    expect(r.headers.get("X-Last-Modified")).toBe("0.00");
    const after = await c.get("/info/collections");
    expect(after.json).toEqual({});
    expect(lm(after)).toBe(lm(before));
    const g = await c.get("/storage/col");
    expect(g.json).toEqual([]);
    expect(g.headers.get("X-Weave-Records")).toBe("0");
  });
  it("S15-9.2: append keeps the batch id; commit applies everything at one T (200)", async () => {
    const c = await Client15.create();
    await c.put("/storage/col/x", { payload: "old" });
    const x = await c.get("/storage/col");
    const l0 = x.headers.get("X-Last-Modified") as string;
    const b = await c.post("/storage/col?batch=true", [bso("a")], { headers: { "X-If-Unmodified-Since": l0 } });
    const id = (b.json as { batch: string }).batch;
    expect(b.headers.get("X-Last-Modified")).toBe(l0);
    const a2 = await c.post(`/storage/col?batch=${id}`, [bso("b")], { headers: { "X-If-Unmodified-Since": l0 } });
    expect(a2.status).toBe(202);
    expect((a2.json as { batch: string }).batch).toBe(id);
    const done = await c.post(`/storage/col?batch=${id}&commit=true`, [bso("c")], { headers: { "X-If-Unmodified-Since": l0 } });
    expect(done.status).toBe(200);
    const dj = done.json as { modified: number; success: string[]; batch?: string };
    expect(dj.success).toEqual(["c"]);
    expect(dj.batch).toBeUndefined();
    const T = Math.round(dj.modified * 1000);
    expect(lm(done)).toBe(T);
    const l = (await c.get("/storage/col?full=1&sort=oldest")).json as Array<{ id: string; modified: number }>;
    expect(l.map((r) => r.id).sort()).toEqual(["a", "b", "c", "x"]);
    for (const r of l.filter((r) => r.id !== "x")) expect(r.modified).toBe(dj.modified);
    expect(((await c.get("/info/collections")).json as Record<string, number>).col).toBe(dj.modified);
    // committed: the id is gone
    expect((await c.post(`/storage/col?batch=${id}`, [bso("d")])).status).toBe(400);
  });
  it("S15-9.2: batch=true&commit=true is a plain POST", async () => {
    const c = await Client15.create();
    const r = await c.post("/storage/col?batch=true&commit=true", [bso("a")]);
    expect(r.status).toBe(200);
    expect(Object.keys(r.json as object).sort()).toEqual(["failed", "modified", "success"]);
    expect((await c.get("/storage/col")).json).toEqual(["a"]);
  });
  it("S15-9.1: bad batch/commit parameters → 400 body 0", async () => {
    const c = await Client15.create();
    for (const q of ["batch=sammich", "commit=true", "batch=true&commit=false", "batch=%24%24"]) {
      const r = await c.post(`/storage/col?${q}`, [bso("a")]);
      expect(r.status, q).toBe(400);
      expect(r.text).toBe("0");
    }
    const ok = await c.post("/storage/col?batch", []);
    expect(ok.status).toBe(202);
    const ok2 = await c.post("/storage/col?batch=TRUE", []);
    expect(ok2.status).toBe(202);
  });
  it("S15-9.3: batch ids are scoped to the collection and to the user", async () => {
    const c = await Client15.create();
    const other = await Client15.create();
    const id = ((await c.post("/storage/col?batch=true", [bso("a")])).json as { batch: string }).batch;
    expect((await c.post(`/storage/col2?batch=${id}&commit=true`, [])).status).toBe(400);
    expect((await other.post(`/storage/col?batch=${id}&commit=true`, [])).status).toBe(400);
    expect((await other.get("/storage/col")).json).toEqual([]);
    expect((await c.post(`/storage/col?batch=${id}&commit=true`, [])).status).toBe(200);
  });
  it("S15-9.4: deleting the collection or the storage discards its batches", async () => {
    const c = await Client15.create();
    const id = ((await c.post("/storage/col?batch=true", [bso("a")])).json as { batch: string }).batch;
    await c.del("/storage/col");
    expect((await c.post(`/storage/col?batch=${id}&commit=true`, [])).status).toBe(400);
    const id2 = ((await c.post("/storage/col?batch=true", [bso("a")])).json as { batch: string }).batch;
    await c.del("/storage");
    expect((await c.post(`/storage/col?batch=${id2}&commit=true`, [])).status).toBe(400);
  });
  it("S15-9.5: X-Weave-Total-Bytes / -Records at the limit accepted, over → 400 body 17", async () => {
    const c = await Client15.create();
    const conf = (await c.get("/info/configuration")).json as Record<string, number>;
    for (const [h, k] of [
      ["X-Weave-Total-Bytes", "max_total_bytes"],
      ["X-Weave-Total-Records", "max_total_records"],
    ] as const) {
      const ok = await c.post("/storage/col?batch=true", [], { headers: { [h]: String(conf[k]) } });
      expect(ok.status).toBe(202);
      const over = await c.post("/storage/col?batch=true", [], { headers: { [h]: String((conf[k] as number) + 1) } });
      expect(over.status).toBe(400);
      expect(over.text).toBe("17");
    }
  });
  it("S15-9.6: commit merges staged fields and keeps unsupplied stored fields", async () => {
    const c = await Client15.create();
    await c.put("/storage/col/a", { payload: "stored", sortindex: 1 });
    const id = ((await c.post("/storage/col?batch=true", [{ id: "a", sortindex: 5 }, { id: "n", sortindex: 2 }])).json as { batch: string }).batch;
    await c.post(`/storage/col?batch=${id}`, [{ id: "n", payload: "later" }]);
    const done = await c.post(`/storage/col?batch=${id}&commit=true`, []);
    const T = (done.json as { modified: number }).modified;
    expect((await c.get("/storage/col/a")).json).toEqual({ id: "a", modified: T, payload: "stored", sortindex: 5 });
    expect((await c.get("/storage/col/n")).json).toEqual({ id: "n", modified: T, payload: "later", sortindex: 2 });
  });
  it("S15-9.6: failed items are never staged", async () => {
    const c = await Client15.create();
    const r = await c.post("/storage/col?batch=true", [bso("a"), { id: "b", payload: 42 }]);
    const id = (r.json as { batch: string }).batch;
    await c.post(`/storage/col?batch=${id}&commit=true`, [{ id: "c", ttl: -1 }]);
    expect((await c.get("/storage/col")).json).toEqual(["a"]);
  });
  it("S15-9.6: an empty commit is valid (JSON [] and empty newlines body)", async () => {
    const c = await Client15.create();
    const id = ((await c.post("/storage/col?batch=true", [bso("a")])).json as { batch: string }).batch;
    const r = await c.call("POST", `/storage/col?batch=${id}&commit=true`, { raw: "", headers: { "Content-Type": "application/newlines" } });
    expect(r.status).toBe(200);
    expect((await c.get("/storage/col")).json).toEqual(["a"]);
  });
  it("S15-9.6: batch ttl is based on the commit timestamp", async () => {
    const c = await Client15.create();
    const id = ((await c.post("/storage/col?batch=true", [{ id: "a", payload: "x", ttl: 2 }])).json as { batch: string }).batch;
    await new Promise((r) => setTimeout(r, 1500));
    await c.post(`/storage/col?batch=${id}&commit=true`, []);
    // staged 1.5 s ago with ttl 2: still visible right after the commit
    expect((await c.get("/storage/col/a")).status).toBe(200);
  });
  it("S15-9.7: another write between batch POSTs makes the next one fail with 412", async () => {
    const c = await Client15.create();
    await c.put("/storage/col/x", { payload: "x" });
    const l0 = (await c.get("/storage/col")).headers.get("X-Last-Modified") as string;
    const id = ((await c.post("/storage/col?batch=true", [bso("a")], { headers: { "X-If-Unmodified-Since": l0 } })).json as { batch: string }).batch;
    await c.put("/storage/col/y", { payload: "y" });
    const r = await c.post(`/storage/col?batch=${id}&commit=true`, [], { headers: { "X-If-Unmodified-Since": l0 } });
    expect(r.status).toBe(412);
    expect((await c.get("/storage/col/a")).status).toBe(404);
  });
});

describe("S15-10 deleting", () => {
  it("S15-10.1: DELETE collection → 200 with the storage timestamp; nonexistent → 200", async () => {
    const c = await Client15.create();
    const none = await c.del("/storage/nothing");
    expect(none.status).toBe(200);
    expect(none.text).toMatch(/^\d+\.\d\d$/);
    await c.put("/storage/col/a", { payload: "x" });
    const d = await c.del("/storage/col");
    expect(d.status).toBe(200);
    expect((await c.get("/storage/col")).json).toEqual([]);
    expect(lm(await c.get("/info/collections"))).toBe(tsMs(d.text));
  });
  it("S15-10.1: DELETE ?ids= removes those, stamps and keeps the collection", async () => {
    const c = await Client15.create();
    await c.post("/storage/col", [bso("a"), bso("b"), bso("c")]);
    const d = await c.del("/storage/col?ids=a,c,zz");
    expect(d.status).toBe(200);
    const T = tsMs(d.text);
    expect(lm(d)).toBe(T);
    expect((await c.get("/storage/col")).json).toEqual(["b"]);
    expect(((await c.get("/info/collections")).json as Record<string, number>).col).toBe(Number(d.text));
    expect((await c.del(`/storage/col?ids=${"a,".repeat(100)}a`)).status).toBe(400);
    expect((await c.del("/storage/col?ids=")).status).toBe(400);
    expect((await c.get("/storage/col")).json).toEqual(["b"]);
  });
  it("S15-10.1: X-If-Unmodified-Since on a by-id delete is checked against the collection", async () => {
    const c = await Client15.create();
    const a = await c.put("/storage/col/a", { payload: "x" });
    await c.put("/storage/col/b", { payload: "x" });
    const r = await c.del("/storage/col?ids=a", { headers: { "X-If-Unmodified-Since": a.text } });
    expect(r.status).toBe(412);
    expect((await c.get("/storage/col/a")).status).toBe(200);
  });
  it("S15-10.2: DELETE of one record → {modified}; missing → 404", async () => {
    const c = await Client15.create();
    await c.put("/storage/col/a", { payload: "x" });
    const d = await c.del("/storage/col/a");
    expect(d.status).toBe(200);
    expect(d.text).toMatch(/^\{"modified":\d+\.\d\d\}$/);
    expect(lm(d)).toBe(tsMs(d.text.slice(12, -1)));
    const again = await c.del("/storage/col/a");
    expect(again.status).toBe(404);
    expect(again.text).toBe("0");
  });
});

describe("S15-12 headers", () => {
  it("S15-12.1: X-If-Modified-Since on info/* → 304 at ts1, 200 at ts1 − 0.01", async () => {
    const c = await Client15.create();
    const p = await c.put("/storage/col/a", { payload: "x" });
    const ts1 = tsMs(p.text);
    for (const path of ["/info/collections", "/info/quota", "/info/collection_usage", "/info/collection_counts"]) {
      const nm = await c.get(path, { headers: { "X-If-Modified-Since": fmt(ts1) } });
      expect(nm.status, path).toBe(304);
      expect(nm.text).toBe("");
      expect(lm(nm)).toBe(ts1);
      expect((await c.get(path, { headers: { "X-If-Modified-Since": fmt(ts1 - 10) } })).status, path).toBe(200);
    }
  });
  it("S15-12.1: X-If-Modified-Since on a record and a collection", async () => {
    const c = await Client15.create();
    const a = await c.put("/storage/col/a", { payload: "x" });
    const b = await c.put("/storage/col/b", { payload: "x" });
    expect((await c.get("/storage/col/a", { headers: { "X-If-Modified-Since": a.text } })).status).toBe(304);
    expect((await c.get("/storage/col", { headers: { "X-If-Modified-Since": a.text } })).status).toBe(200);
    expect((await c.get("/storage/col", { headers: { "X-If-Modified-Since": b.text } })).status).toBe(304);
  });
  it("S15-12.2: X-If-Unmodified-Since on PUT: BSO level, 0 means create-only", async () => {
    const c = await Client15.create();
    const first = await c.put("/storage/meta/global", { payload: "1" }, { headers: { "X-If-Unmodified-Since": "0" } });
    expect(first.status).toBe(200);
    const again = await c.put("/storage/meta/global", { payload: "2" }, { headers: { "X-If-Unmodified-Since": "0" } });
    expect(again.status).toBe(412);
    expect(lm(again)).toBe(tsMs(first.text));
    // another record changing does not matter for a BSO-level check
    await c.put("/storage/meta/other", { payload: "x" });
    const ok = await c.put("/storage/meta/global", { payload: "3" }, { headers: { "X-If-Unmodified-Since": first.text } });
    expect(ok.status).toBe(200);
    expect(((await c.get("/storage/meta/global")).json as { payload: string }).payload).toBe("3");
  });
  it("S15-12.2: X-If-Unmodified-Since on GET and POST (collection level)", async () => {
    const c = await Client15.create();
    const a = await c.put("/storage/col/a", { payload: "x" });
    await c.put("/storage/col/b", { payload: "x" });
    expect((await c.get("/storage/col", { headers: { "X-If-Unmodified-Since": a.text } })).status).toBe(412);
    const p = await c.post("/storage/col", [bso("c")], { headers: { "X-If-Unmodified-Since": a.text } });
    expect(p.status).toBe(412);
    expect((await c.get("/storage/col/c")).status).toBe(404);
  });
  it("S15-12.2: both precondition headers, or a bad value → 400 body 0", async () => {
    const c = await Client15.create();
    for (const headers of [
      { "X-If-Modified-Since": "1", "X-If-Unmodified-Since": "1" } as Record<string, string>,
      { "X-If-Modified-Since": "-1" },
      { "X-If-Unmodified-Since": "abc" },
    ]) {
      const r = await c.get("/info/collections", { headers });
      expect(r.status).toBe(400);
      expect(r.text).toBe("0");
    }
  });
  it("S15-12.9: CORS preflight answered before routing and auth", async () => {
    const r = await raw("OPTIONS", "/1.5/42/__heartbeat__", {
      headers: { Origin: "localhost", "Access-Control-Request-Method": "GET" },
    });
    expect(r.status).toBeLessThan(300);
    expect(r.headers.get("access-control-allow-origin")).toBe("localhost");
    expect(Number(r.headers.get("access-control-max-age"))).toBeGreaterThan(0);
    const c = await Client15.create();
    const g = await c.get("/info/collections", { headers: { Origin: "https://example.org" } });
    expect(g.headers.get("access-control-allow-origin")).toBe("https://example.org");
  });
});

describe("S15-13 quota and payload checks", () => {
  it("S15-6.5: an invalid limit setting is a ConfigError for the app-wide handler, not a silent default", async () => {
    const c = await Client15.create({ SYNC15_MAX_POST_RECORDS: "lots" });
    const r = await c.get("/info/configuration");
    expect(r.status).toBe(500);
    expect(r.text).toContain("SYNC15_MAX_POST_RECORDS");
  });
  it("S15-13.1: quota off by default; when configured, writes at or over it → 400 body 14 and info/quota reports it", async () => {
    expect(((await (await Client15.create()).get("/info/quota")).json as unknown[])[1]).toBeNull();
    const c = await Client15.create({ SYNC15_QUOTA_BYTES: "2048" });
    expect((await c.get("/info/quota")).json).toEqual([0, 2]);
    expect((await c.put("/storage/col/a", { payload: "x".repeat(2048) })).status).toBe(200);
    const put = await c.put("/storage/col/b", { payload: "x" });
    expect(put.status).toBe(400);
    expect(put.text).toBe("14");
    const post = await c.post("/storage/col", [bso("c")]);
    expect(post.text).toBe("14");
    expect((await c.post("/storage/col?batch=true", [bso("c")])).text).toBe("14");
    expect((await c.get("/info/quota")).json).toEqual([2, 2]);
    // deleting frees the space again
    await c.del("/storage/col/a");
    expect((await c.put("/storage/col/b", { payload: "x" })).status).toBe(200);
  });

  it("S15-13.3: known-bad crypto payloads rejected in crypto only", async () => {
    const c = await Client15.create();
    const bad = '{"IV": "AAAAAAAAAAAAAAAAAAAAAA==", "hmac": "x"}';
    const r = await c.put("/storage/crypto/keys", { payload: bad });
    expect(r.status).toBe(400);
    expect(r.text).toBe("8");
    const p = await c.post("/storage/crypto", [{ id: "keys", payload: bad }]);
    expect(p.status).toBe(400);
    expect((await c.put("/storage/other/keys", { payload: bad })).status).toBe(200);
  });
});

describe("S15-2 service endpoints", () => {
  it("S15-2: __lbheartbeat__ and __version__ answer JSON", async () => {
    const lb = await raw("GET", "/__lbheartbeat__");
    expect(lb.status).toBe(200);
    expect(lb.json).toEqual({});
    const pre = await raw("OPTIONS", "/__lbheartbeat__", { headers: { Origin: "localhost", "Access-Control-Request-Method": "GET" } });
    expect(pre.headers.get("access-control-allow-origin")).toBe("localhost");
    expect(lb.headers.get("X-Weave-Timestamp")).toBeNull();
    const v = await raw("GET", "/__version__");
    expect(Object.keys(v.json as object).sort()).toEqual(["build", "commit", "source", "version"]);
  });
  it("S15-2: __heartbeat__ answers JSON when asked for JSON, else falls through", async () => {
    const j = await raw("GET", "/__heartbeat__", { headers: { Accept: "application/json" } });
    expect(j.status).toBe(200);
    expect(j.json).toMatchObject({ status: "Ok", database: "Ok", quota: { enabled: false } });
    const plain = await raw("GET", "/__heartbeat__");
    expect(plain.status).toBe(200);
    expect(plain.text).toBe("");
  });
});
