/**
 * Storage 1.5 limits at their edges, through the 1.5 routes and the real
 * engine (helpers/sync15): batch totals from what a batch really
 * accumulated, staged bytes in the quota, hostile ids and payloads.
 */
import { describe, expect, it } from "vitest";
import { Client15 } from "../helpers/sync15";

const bso = (id: string, payload = `p-${id}`) => ({ id, payload });
const batchOf = (r: { json: unknown }) => (r.json as { batch: string }).batch;

describe("S15-9.5: batch totals are enforced from what the batch accumulated", () => {
  it("max_total_records: appends up to the limit are accepted; the append that passes it → 400 / 17 and stages nothing", async () => {
    const c = await Client15.create({ SYNC15_MAX_TOTAL_RECORDS: "3" });
    const first = await c.post("/storage/col?batch=true", [bso("a"), bso("b")]);
    expect(first.status).toBe(202);
    const id = batchOf(first);
    // Restaging an id does not add a record.
    expect((await c.post(`/storage/col?batch=${id}`, [bso("a", "again"), bso("c")])).status).toBe(202);
    const over = await c.post(`/storage/col?batch=${id}`, [bso("d")]);
    expect(over.status).toBe(400);
    expect(over.text).toBe("17");
    const done = await c.post(`/storage/col?batch=${id}&commit=true`, []);
    expect(done.status).toBe(200);
    expect((await c.get("/storage/col?sort=oldest")).json).toEqual(["a", "b", "c"]);
    expect((await c.get("/storage/col/a")).json).toMatchObject({ payload: "again" });
  });

  it("max_total_records: a commit that brings the batch over the limit → 400 / 17 and nothing is written", async () => {
    const c = await Client15.create({ SYNC15_MAX_TOTAL_RECORDS: "2" });
    const id = batchOf(await c.post("/storage/col?batch=true", [bso("a"), bso("b")]));
    const over = await c.post(`/storage/col?batch=${id}&commit=true`, [bso("c")]);
    expect(over.status).toBe(400);
    expect(over.text).toBe("17");
    expect((await c.get("/storage/col")).json).toEqual([]);
    // The batch is as it was before the refused request: it still commits.
    expect((await c.post(`/storage/col?batch=${id}&commit=true`, [])).status).toBe(200);
    expect((await c.get("/storage/col?sort=oldest")).json).toEqual(["a", "b"]);
  });

  it("max_total_bytes: exactly the limit is accepted, one byte more → 400 / 17", async () => {
    const c = await Client15.create({ SYNC15_MAX_TOTAL_BYTES: "10" });
    const id = batchOf(await c.post("/storage/col?batch=true", [bso("a", "12345")]));
    expect((await c.post(`/storage/col?batch=${id}`, [bso("b", "67890")])).status).toBe(202);
    const over = await c.post(`/storage/col?batch=${id}&commit=true`, [bso("c", "x")]);
    expect(over.status).toBe(400);
    expect(over.text).toBe("17");
    // Restaging an id counts its latest payload, not both.
    expect((await c.post(`/storage/col?batch=${id}`, [bso("b", "67")])).status).toBe(202);
    expect((await c.post(`/storage/col?batch=${id}&commit=true`, [bso("c", "xyz")])).status).toBe(200);
    expect((await c.get("/info/collection_usage")).json).toEqual({ col: 10 / 1024 });
  });
});

describe("S15-13.1: staged records count toward the quota", () => {
  it("appends are refused once stored plus staged bytes reach the quota; the commit of an accepted batch still lands", async () => {
    const c = await Client15.create({ SYNC15_QUOTA_BYTES: "10" });
    expect((await c.put("/storage/col/s", { payload: "1234" })).status).toBe(200);
    const id = batchOf(await c.post("/storage/col?batch=true", [bso("a", "12345")]));
    // 4 stored + 5 staged = 9 < 10: the append that crosses the quota is accepted.
    expect((await c.post(`/storage/col?batch=${id}`, [bso("b", "67")])).status).toBe(202);
    // 4 + 7 = 11: further appends and other writes are refused.
    const over = await c.post(`/storage/col?batch=${id}`, [bso("c", "x")]);
    expect(over.status).toBe(400);
    expect(over.text).toBe("14");
    expect((await c.put("/storage/col/t", { payload: "x" })).status).toBe(400);
    expect((await c.post("/storage/other?batch=true", [bso("z", "x")])).status).toBe(400);
    // Committing what was accepted adds nothing new.
    expect((await c.post(`/storage/col?batch=${id}&commit=true`, [])).status).toBe(200);
    expect((await c.get("/info/quota")).json).toEqual([11 / 1024, 10 / 1024]);
  });
});

describe("S15-8.2: hostile ids and payloads in a POST", () => {
  it("a failing item whose id is __proto__ is reported like any other (200, not 503)", async () => {
    const c = await Client15.create();
    const r = await c.post("/storage/col", [
      { id: "__proto__", payload: "x", sortindex: "bad" },
      { id: "constructor", payload: "y", ttl: -1 },
      bso("ok"),
    ]);
    expect(r.status).toBe(200);
    expect(r.text).toContain('"failed":{"__proto__":"invalid sortindex","constructor":"invalid ttl"}');
    expect((r.json as { success: string[] }).success).toEqual(["ok"]);
  });

  it("a record whose id is __proto__ is stored and read back", async () => {
    const c = await Client15.create();
    expect((await c.post("/storage/col", [bso("__proto__")])).status).toBe(200);
    expect((await c.get("/storage/col/__proto__")).json).toMatchObject({ id: "__proto__", payload: "p-__proto__" });
  });

  it("a payload with a lone surrogate is refused as invalid (POST item fails, PUT → 400 / 8); nothing is stored", async () => {
    const c = await Client15.create();
    const lone = '{"id":"a","payload":"x\\ud800y"}';
    const post = await c.call("POST", "/storage/col", { raw: `[${lone},{"id":"b","payload":"\\ud83d\\ude00"}]`, headers: { "Content-Type": "application/json" } });
    expect(post.status).toBe(200);
    expect((post.json as { failed: Record<string, string> }).failed).toEqual({ a: "invalid payload" });
    const put = await c.call("PUT", "/storage/col/c", { raw: '{"payload":"\\udc00"}', headers: { "Content-Type": "application/json" } });
    expect(put.status).toBe(400);
    expect(put.text).toBe("8");
    expect((await c.get("/storage/col")).json).toEqual(["b"]);
    expect((await c.get("/storage/col/b")).json).toMatchObject({ payload: "\u{1F600}" });
  });
});
