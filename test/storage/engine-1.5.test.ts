/**
 * 1.5 engine rules on a real Durable Object's SQLite (runInDurableObject),
 * with a clock the test moves: the rules that need time travel or direct
 * access (batch lifetime, ttl arithmetic, page caps, quota, 1.1 isolation).
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BATCH_LIFETIME_MS, StorageEngine } from "../../src/storage/engine";
import { durableObjectSql } from "../../src/storage/sql";
import type { UserStore } from "../../src/objects/user-store";
import type { PostParams, RecordFields, Result } from "../../src/storage/types";

async function withEngine<T>(fn: (e: StorageEngine, clock: { now: number }) => T | Promise<T>): Promise<T> {
  const stub = env.USER_STORE.get(env.USER_STORE.idFromName(`engine15-${crypto.randomUUID()}`));
  return runInDurableObject(stub, async (_obj: UserStore, state) => {
    const clock = { now: 1_700_000_000_000 };
    return fn(new StorageEngine(durableObjectSql(state.storage), () => clock.now), clock);
  });
}

function ok<T>(r: Result<T>): T & { ok: true } {
  if (!r.ok) throw new Error(`unexpected failure ${JSON.stringify(r.failure)}`);
  return r as T & { ok: true };
}

const put = (e: StorageEngine, collection: string, record: RecordFields, extra = {}) =>
  e.put({ dialect: "1.5", collection, record, quota: null, ...extra });
const post = (e: StorageEngine, collection: string, records: RecordFields[], extra: Partial<PostParams> = {}) =>
  e.post({ dialect: "1.5", collection, records, failed: {}, quota: null, ...extra });

describe("engine 1.5: timestamps", () => {
  it("S15-5.4: a frozen clock still gives strictly increasing write stamps; reads never go below them", async () => {
    await withEngine((e) => {
      const a = ok(put(e, "c", { id: "1", payload: "a" }));
      const b = ok(put(e, "d", { id: "1", payload: "a" }));
      expect(b.ts).toBe(a.ts + 10);
      const info = ok(e.info({ view: "collections" }));
      expect(info.ts).toBeGreaterThanOrEqual(b.ts);
      expect(info.lastModified).toBe(b.ts);
      expect(info.collections).toEqual([
        ["c", a.ts],
        ["d", b.ts],
      ]);
    });
  });
  it("S15-5.3: collection deletion leaves a tombstone; DELETE storage keeps the timestamp monotonic", async () => {
    await withEngine((e) => {
      const a = ok(put(e, "c", { id: "1", payload: "a" }));
      const d = ok(e.deleteCollection({ collection: "c" }));
      expect(d.lastModified).toBeGreaterThan(a.ts);
      expect(e.storageModified()).toBe(d.ts);
      const all = ok(e.deleteStorage({}));
      expect(all.lastModified).toBe(d.ts);
      expect(e.storageModified()).toBe(all.ts);
      expect(ok(e.info({ view: "collections" })).collections).toEqual([]);
    });
  });
});

describe("engine 1.5: ttl", () => {
  it("S15-4.2: visible iff expiry > T (strict), expiry = T + ttl s", async () => {
    await withEngine((e, clock) => {
      const w = ok(put(e, "c", { id: "1", payload: "a", ttl: 1 }));
      clock.now = w.ts + 990;
      expect(e.getOne({ collection: "c", id: "1" }).ok).toBe(true);
      clock.now = w.ts + 1000;
      expect(e.getOne({ collection: "c", id: "1" })).toMatchObject({ ok: false, failure: { kind: "not-found" } });
      expect(ok(e.info({ view: "counts" })).totals).toEqual([]);
      expect(ok(e.info({ view: "quota" })).used).toBe(0);
    });
  });
  it("S15-9.6: batch ttl counts from the commit, not from staging", async () => {
    await withEngine((e, clock) => {
      const staged = ok(post(e, "c", [{ id: "1", payload: "a", ttl: 10 }], { batch: { id: null, commit: false } }));
      clock.now += 9_000;
      const done = ok(post(e, "c", [], { batch: { id: staged.batch as string, commit: true } }));
      clock.now += 5_000;
      const got = ok(e.getOne({ collection: "c", id: "1" }));
      expect(got.record.modified).toBe(done.ts);
      clock.now = done.ts + 10_000;
      expect(e.getOne({ collection: "c", id: "1" }).ok).toBe(false);
    });
  });
  it("S15-9.6: a commit over an expired record creates it from defaults", async () => {
    await withEngine((e, clock) => {
      put(e, "c", { id: "1", payload: "old", sortindex: 9, ttl: 1 });
      clock.now += 2_000;
      const staged = ok(post(e, "c", [{ id: "1", sortindex: 2 }], { batch: { id: null, commit: false } }));
      const done = ok(post(e, "c", [], { batch: { id: staged.batch as string, commit: true } }));
      expect(ok(e.getOne({ collection: "c", id: "1" })).record).toMatchObject({ payload: "", sortindex: 2, modified: done.ts });
    });
  });
});

describe("engine 1.5: batches", () => {
  it("S15-9.4: a batch is valid for 2 hours after creation", async () => {
    await withEngine((e, clock) => {
      const a = ok(post(e, "c", [{ id: "1", payload: "a" }], { batch: { id: null, commit: false } }));
      clock.now += BATCH_LIFETIME_MS - 1_000;
      expect(post(e, "c", [], { batch: { id: a.batch as string, commit: false } }).ok).toBe(true);
      const b = ok(post(e, "c", [{ id: "2", payload: "a" }], { batch: { id: null, commit: false } }));
      clock.now = a.ts + BATCH_LIFETIME_MS + 10;
      expect(post(e, "c", [], { batch: { id: a.batch as string, commit: true } })).toMatchObject({
        ok: false,
        failure: { kind: "batch-not-found" },
      });
      expect(post(e, "c", [], { batch: { id: b.batch as string, commit: true } }).ok).toBe(true);
      expect(ok(e.query({ collection: "c", full: false, pageCap: 100 })).records.map((r) => r.id)).toEqual(["2"]);
    });
  });
  it("S15-9.2: staging changes no timestamp; the commit stamps everything with one T", async () => {
    await withEngine((e) => {
      const before = e.storageModified();
      const s = ok(post(e, "c", [{ id: "1", payload: "a" }], { batch: { id: null, commit: false } }));
      expect(s.lastModified).toBe(0);
      expect(e.storageModified()).toBe(before);
      ok(post(e, "c", [{ id: "2", payload: "b" }], { batch: { id: s.batch as string, commit: false } }));
      const done = ok(post(e, "c", [{ id: "3" }], { batch: { id: s.batch as string, commit: true } }));
      const rows = ok(e.query({ collection: "c", full: true, pageCap: 100, sort: "oldest" })).records;
      expect(rows.map((r) => [r.id, r.modified, r.payload])).toEqual([
        ["1", done.ts, "a"],
        ["2", done.ts, "b"],
        ["3", done.ts, ""],
      ]);
      expect(e.storageModified()).toBe(done.ts);
    });
  });
});

describe("engine 1.5: reads", () => {
  it("S15-7.3: without a limit a listing stops at the page cap and says where to go on", async () => {
    await withEngine((e) => {
      post(e, "c", [1, 2, 3, 4, 5].map((i) => ({ id: String(i), payload: "x" })));
      const p1 = ok(e.query({ collection: "c", full: false, pageCap: 2, sort: "index" }));
      expect(p1.records).toHaveLength(2);
      expect(p1.nextOffset).toBe(2);
      const p3 = ok(e.query({ collection: "c", full: false, pageCap: 2, sort: "index", offset: 4 }));
      expect(p3.records).toHaveLength(1);
      expect(p3.nextOffset).toBeUndefined();
    });
  });
  it("S15-7.3: a full listing stops within its byte budget (at least one record) and continues", async () => {
    await withEngine((e) => {
      post(e, "c", [1, 2, 3, 4, 5].map((i) => ({ id: String(i), payload: "x".repeat(100) })));
      const p1 = ok(e.query({ collection: "c", full: true, pageCap: 100, pageBytes: 250, sort: "oldest" }));
      expect(p1.records.map((r) => r.id)).toEqual(["1", "2"]);
      expect(p1.nextOffset).toBe(2);
      const one = ok(e.query({ collection: "c", full: true, pageCap: 100, pageBytes: 10, sort: "oldest", offset: 4 }));
      expect(one.records.map((r) => r.id)).toEqual(["5"]);
      expect(one.nextOffset).toBeUndefined();
      const ids = ok(e.query({ collection: "c", full: false, pageCap: 100, pageBytes: 10 }));
      expect(ids.records).toHaveLength(5);
    });
  });
  it("S15-12.1: preconditions use the level of the operation", async () => {
    await withEngine((e) => {
      const a = ok(put(e, "c", { id: "a", payload: "x" }));
      const b = ok(put(e, "c", { id: "b", payload: "x" }));
      expect(e.getOne({ collection: "c", id: "a", ifModifiedSince: a.ts })).toMatchObject({ ok: false, failure: { kind: "not-modified" } });
      expect(e.query({ collection: "c", full: false, pageCap: 10, ifModifiedSince: a.ts }).ok).toBe(true);
      expect(e.info({ view: "collections", ifUnmodifiedSince: a.ts })).toMatchObject({
        ok: false,
        failure: { kind: "precondition-failed", lastModified: b.ts },
      });
      expect(e.deleteOne({ collection: "c", id: "a", ifUnmodifiedSince: a.ts }).ok).toBe(true);
    });
  });
});

describe("engine 1.5: quota and dialect isolation", () => {
  it("S15-13.1: with a quota, a write that starts at or over it is refused", async () => {
    await withEngine((e) => {
      expect(put(e, "c", { id: "1", payload: "é".repeat(5) }, { quota: 10 }).ok).toBe(true);
      expect(ok(e.info({ view: "quota" })).used).toBe(10);
      expect(put(e, "c", { id: "2", payload: "x" }, { quota: 10 })).toMatchObject({ ok: false, failure: { kind: "over-quota" } });
      expect(post(e, "c", [], { quota: 10, batch: { id: null, commit: false } })).toMatchObject({ ok: false, failure: { kind: "over-quota" } });
      expect(put(e, "c", { id: "2", payload: "x" }, { quota: 11 }).ok).toBe(true);
    });
  });
  it("storage-1.5: 1.1 reads of the same engine are unchanged by 1.5 writes' bookkeeping", async () => {
    await withEngine((e) => {
      const w = ok(e.put({ dialect: "1.1", collection: "c", record: { id: "1", payload: "a" }, quota: null }));
      expect(e.collectionTimestamps().collections).toEqual([["c", w.modified]]);
      // a 1.1 store has no 1.5 collection timestamps
      expect(ok(e.info({ view: "collections" })).collections).toEqual([]);
    });
  });
});
