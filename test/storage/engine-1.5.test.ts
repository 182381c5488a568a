/**
 * 1.5 engine rules on a real Durable Object's SQLite (runInDurableObject),
 * with a clock the test moves: the rules that need time travel or direct
 * access (batch lifetime, ttl arithmetic, page caps, quota, 1.1 isolation).
 */
import { describe, expect, it } from "vitest";
import { BATCH_LIFETIME_MS, StorageEngine } from "../../src/storage/engine";
import { PROFILE_1_1, PROFILE_1_5 } from "../../src/storage/profile";
import type { PostParams, RecordFields } from "../../src/storage/types";
import * as support from "./support";
import { ok } from "./support";

const withEngine = <T>(fn: (e: StorageEngine, clock: { now: number }) => T | Promise<T>) => support.withEngine(PROFILE_1_5, fn);
/** The storage level, as info answers it. */
const storageModified = (e: StorageEngine) => ok(e.info({ view: "collections" })).lastModified;

const put = (e: StorageEngine, collection: string, record: RecordFields, extra = {}) =>
  e.put({ collection, record, quota: null, ...extra });
const post = (e: StorageEngine, collection: string, records: RecordFields[], extra: Partial<PostParams> = {}) =>
  e.post({ collection, records, quota: null, ...extra });

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
      const d = ok(e.deleteRecords({ collection: "c" }));
      expect(d.lastModified).toBeGreaterThan(a.ts);
      expect(storageModified(e)).toBe(d.ts);
      const all = ok(e.deleteStorage({}));
      expect(all.lastModified).toBe(d.ts);
      expect(storageModified(e)).toBe(all.ts);
      expect(ok(e.info({ view: "collections" })).collections).toEqual([]);
    });
  });
});

describe("engine 1.5: ttl", () => {
  it("S15-4.2: visible iff expiry > T (strict), expiry = T + ttl s", async () => {
    await withEngine((e, clock) => {
      const w = ok(put(e, "c", { id: "1", payload: "a", ttl: 1 }));
      clock.now = w.ts + 990;
      expect(e.get({ collection: "c", id: "1" }).ok).toBe(true);
      clock.now = w.ts + 1000;
      expect(e.get({ collection: "c", id: "1" })).toMatchObject({ ok: false, failure: { kind: "not-found" } });
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
      const got = ok(e.get({ collection: "c", id: "1" }));
      expect(got.record.modified).toBe(done.ts);
      clock.now = done.ts + 10_000;
      expect(e.get({ collection: "c", id: "1" }).ok).toBe(false);
    });
  });
  it("S15-9.6: a commit over an expired record creates it from defaults", async () => {
    await withEngine((e, clock) => {
      put(e, "c", { id: "1", payload: "old", sortindex: 9, ttl: 1 });
      clock.now += 2_000;
      const staged = ok(post(e, "c", [{ id: "1", sortindex: 2 }], { batch: { id: null, commit: false } }));
      const done = ok(post(e, "c", [], { batch: { id: staged.batch as string, commit: true } }));
      expect(ok(e.get({ collection: "c", id: "1" })).record).toMatchObject({ payload: "", sortindex: 2, modified: done.ts });
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
      expect(ok(e.list({ collection: "c", full: false, pageCap: 100 })).records.map((r) => r.id)).toEqual(["2"]);
    });
  });
  it("S15-9.2: staging changes no timestamp; the commit stamps everything with one T", async () => {
    await withEngine((e) => {
      const before = storageModified(e);
      const s = ok(post(e, "c", [{ id: "1", payload: "a" }], { batch: { id: null, commit: false } }));
      expect(s.lastModified).toBe(0);
      expect(storageModified(e)).toBe(before);
      ok(post(e, "c", [{ id: "2", payload: "b" }], { batch: { id: s.batch as string, commit: false } }));
      const done = ok(post(e, "c", [{ id: "3" }], { batch: { id: s.batch as string, commit: true } }));
      const rows = ok(e.list({ collection: "c", full: true, pageCap: 100, sort: "oldest" })).records;
      expect(rows.map((r) => [r.id, r.modified, r.payload])).toEqual([
        ["1", done.ts, "a"],
        ["2", done.ts, "b"],
        ["3", done.ts, ""],
      ]);
      expect(storageModified(e)).toBe(done.ts);
    });
  });
});

describe("engine 1.5: reads", () => {
  it("S15-7.3: without a limit a listing stops at the page cap and says where to go on", async () => {
    await withEngine((e) => {
      post(e, "c", [1, 2, 3, 4, 5].map((i) => ({ id: String(i), payload: "x" })));
      const p1 = ok(e.list({ collection: "c", full: false, pageCap: 2, sort: "index" }));
      expect(p1.records).toHaveLength(2);
      expect(p1.nextOffset).toBe(2);
      const p3 = ok(e.list({ collection: "c", full: false, pageCap: 2, sort: "index", offset: 4 }));
      expect(p3.records).toHaveLength(1);
      expect(p3.nextOffset).toBeUndefined();
    });
  });
  it("S15-7.3: a full listing stops within its byte budget (at least one record) and continues", async () => {
    await withEngine((e) => {
      post(e, "c", [1, 2, 3, 4, 5].map((i) => ({ id: String(i), payload: "x".repeat(100) })));
      const p1 = ok(e.list({ collection: "c", full: true, pageCap: 100, pageBytes: 250, sort: "oldest" }));
      expect(p1.records.map((r) => r.id)).toEqual(["1", "2"]);
      expect(p1.nextOffset).toBe(2);
      const one = ok(e.list({ collection: "c", full: true, pageCap: 100, pageBytes: 10, sort: "oldest", offset: 4 }));
      expect(one.records.map((r) => r.id)).toEqual(["5"]);
      expect(one.nextOffset).toBeUndefined();
      // Ids only: each counts its id and the record overhead, so a roomy budget takes them all.
      expect(ok(e.list({ collection: "c", full: false, pageCap: 100, pageBytes: 10 })).records).toHaveLength(1);
      const ids = ok(e.list({ collection: "c", full: false, pageCap: 100, pageBytes: 5 * 17 }));
      expect(ids.records).toHaveLength(5);
      expect(ids.nextOffset).toBeUndefined();
    });
  });
  it("S15-12.1: preconditions use the level of the operation", async () => {
    await withEngine((e) => {
      const a = ok(put(e, "c", { id: "a", payload: "x" }));
      const b = ok(put(e, "c", { id: "b", payload: "x" }));
      expect(e.get({ collection: "c", id: "a", ifModifiedSince: a.ts })).toMatchObject({ ok: false, failure: { kind: "not-modified" } });
      expect(e.list({ collection: "c", full: false, pageCap: 10, ifModifiedSince: a.ts }).ok).toBe(true);
      expect(e.info({ view: "collections", ifUnmodifiedSince: a.ts })).toMatchObject({
        ok: false,
        failure: { kind: "precondition-failed", lastModified: b.ts },
      });
      expect(e.deleteRecord({ collection: "c", id: "a", ifUnmodifiedSince: a.ts }).ok).toBe(true);
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
  it("one profile per store: recorded on first use, a disagreeing name is refused", async () => {
    await withEngine((_e, clock) => {
      const sql = (_e as unknown as { sql: ConstructorParameters<typeof StorageEngine>[0] }).sql;
      expect(new StorageEngine(sql, null, () => clock.now).profile).toBe(PROFILE_1_5);
      expect(() => new StorageEngine(sql, PROFILE_1_1, () => clock.now)).toThrow(/protocol 1.5/);
    });
  });
  it("S11-8.1: a 1.1 store keeps no collection stamps; its info/collections is the newest record", async () => {
    await support.withEngine(PROFILE_1_1, (e) => {
      const w = ok(e.put({ collection: "c", record: { id: "1", payload: "a" }, quota: null }));
      expect(ok(e.info({ view: "collections" })).collections).toEqual([["c", w.modified]]);
      ok(e.deleteRecords({ collection: "c" }));
      expect(ok(e.info({ view: "collections" })).collections).toEqual([]);
    });
  });
});
