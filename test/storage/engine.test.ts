/**
 * Engine rules, run on a real Durable Object's SQLite through runInDurableObject,
 * with a controllable clock. Names cite the spec rule each test checks.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { PURGE_GRACE_MS, type StorageEngine } from "../../src/storage/engine";
import { PROFILE_1_1, PROFILE_1_5 } from "../../src/storage/profile";
import { MIGRATIONS, migrate, RECORD_OVERHEAD } from "../../src/storage/schema";
import type { SqlPort } from "../../src/storage/sql";
import type { StoreApi } from "../../src/storage/stub";
import * as support from "./support";
import { collections, ok, record, totals, used } from "./support";

/** A stub of a fresh object named as the stores of `prefix` ("acct:" 1.1, "uid:" 1.5) are. */
function freshStub(prefix: "acct:" | "uid:") {
  return env.USER_STORE.get(env.USER_STORE.idFromName(`${prefix}engine-test-${crypto.randomUUID()}`));
}

const withEngine = <T>(fn: (e: StorageEngine, clock: { now: number }, sql: SqlPort) => T | Promise<T>) => support.withEngine(PROFILE_1_1, fn);

const put = (e: StorageEngine, collection: string, record: Parameters<StorageEngine["put"]>[0]["record"], extra = {}) =>
  e.put({ collection, record, quota: null, ...extra });

describe("engine: timestamps", () => {
  it("S11-17 / S15-5.4: writes in the same 10 ms tick get strictly increasing timestamps", async () => {
    await withEngine((e) => {
      const a = put(e, "c", { id: "1", payload: "a" });
      const b = put(e, "c", { id: "2", payload: "b" });
      const c = put(e, "d", { id: "3", payload: "c" });
      if (!a.ok || !b.ok || !c.ok) throw new Error("write failed");
      expect(b.ts).toBe(a.ts + 10);
      expect(c.ts).toBe(b.ts + 10);
      expect(ok(e.info({ view: "collections" })).ts).toBe(c.ts);
    });
  });

  it("S11-6: server time is the clock rounded half-even to 10 ms", async () => {
    await withEngine((e, clock) => {
      clock.now = 1_700_000_000_005; // .005 → even hundredth .00
      const a = put(e, "c", { id: "1", payload: "a" });
      expect(a.ts).toBe(1_700_000_000_000);
      clock.now = 1_700_000_010_015; // .015 → .02
      const b = put(e, "c", { id: "1", payload: "a" });
      expect(b.ts).toBe(1_700_000_010_020);
    });
  });
});

describe("engine: writes", () => {
  it("S11-8.7: PUT without payload keeps modified on update and inserts NULL modified", async () => {
    await withEngine((e, clock) => {
      const first = put(e, "c", { id: "1", payload: "a" });
      clock.now += 1000;
      const si = put(e, "c", { id: "1", sortindex: 5 });
      if (!first.ok || !si.ok) throw new Error("write failed");
      expect(si.modified).toBe(first.modified);
      const fresh = put(e, "c", { id: "2", sortindex: 1 });
      if (!fresh.ok) throw new Error("write failed");
      expect(fresh.modified).toBeNull();
      expect(record(e, "c", "1")).toMatchObject({ payload: "a", sortindex: 5, modified: first.modified });
    });
  });

  it("S11-8.8 step 6: POST stamps every element, payload or not", async () => {
    await withEngine((e) => {
      put(e, "c", { id: "1", payload: "a" });
      const r = e.post({ collection: "c", records: [{ id: "1", sortindex: 2 }, { id: "2" }], quota: null });
      if (!r.ok) throw new Error("post failed");
      expect(record(e, "c", "1")?.modified).toBe(r.ts);
      expect(record(e, "c", "2")?.modified).toBe(r.ts);
    });
  });

  it("S11-10: a failed precondition writes nothing; equality passes", async () => {
    await withEngine((e) => {
      const a = put(e, "c", { id: "1", payload: "a" });
      if (!a.ok) throw new Error("write failed");
      const refused = put(e, "c", { id: "2", payload: "b" }, { ifUnmodifiedSince: a.ts - 10 });
      expect(refused).toMatchObject({ ok: false, failure: { kind: "precondition-failed" } });
      expect(record(e, "c", "2")).toBeNull();
      expect(put(e, "c", { id: "2", payload: "b" }, { ifUnmodifiedSince: a.ts }).ok).toBe(true);
    });
  });

  it("S11-8.7 order: quota is checked before the precondition, the body verdict last", async () => {
    await withEngine((e) => {
      const a = put(e, "c", { id: "1", payload: "x".repeat(100) });
      if (!a.ok) throw new Error("write failed");
      const both = put(e, "c", { id: "2", payload: "y" }, { quota: 100, ifUnmodifiedSince: 0, rejectAfterChecks: 6 });
      expect(both).toMatchObject({ ok: false, failure: { kind: "over-quota" } });
      const pre = put(e, "c", { id: "2", payload: "y" }, { quota: 1000, ifUnmodifiedSince: 0, rejectAfterChecks: 6 });
      expect(pre).toMatchObject({ ok: false, failure: { kind: "precondition-failed" } });
      const body = put(e, "c", { id: "2", payload: "y" }, { quota: 1000, rejectAfterChecks: 6 });
      expect(body).toMatchObject({ ok: false, failure: { kind: "rejected", code: 6 } });
      // A lone-object POST (S11-8.8 step 1): the precondition wins over the quota.
      const lone = put(e, "c", { id: "2", payload: "y" }, { quota: 100, ifUnmodifiedSince: 0, preconditionFirst: true });
      expect(lone).toMatchObject({ ok: false, failure: { kind: "precondition-failed" } });
    });
  });

  it("S11-11: the write that crosses the quota is accepted, the next one refused", async () => {
    await withEngine((e) => {
      // A record occupies payload + id + parentid + predecessorid + RECORD_OVERHEAD units.
      const a = put(e, "c", { id: "1", payload: "x".repeat(90), parentid: "pp" }, { quota: 200 });
      expect(a).toMatchObject({ ok: true, usedBefore: 0 });
      const b = put(e, "c", { id: "2", payload: "x".repeat(90) }, { quota: 200 });
      expect(b).toMatchObject({ ok: true, usedBefore: 90 + 1 + 2 + RECORD_OVERHEAD });
      expect(put(e, "c", { id: "3", payload: "x" }, { quota: 200 })).toMatchObject({ ok: false, failure: { kind: "over-quota" } });
      // A partial update that drops nothing keeps the count; one that grows a field grows it.
      put(e, "c", { id: "2", sortindex: 3, predecessorid: "qqqq" });
      expect(used(e)).toBe(2 * (90 + 1 + RECORD_OVERHEAD) + 2 + 4);
    });
  });
});

describe("engine: TTL and totals", () => {
  it("S11-12: ttl counts whole seconds; expired records vanish from reads and totals but not from info/collections", async () => {
    await withEngine((e, clock) => {
      clock.now = 1_700_000_000_900;
      put(e, "tabs", { id: "t", payload: "abc", ttl: 2 });
      put(e, "tabs", { id: "u", payload: "de" });
      expect(totals(e)).toEqual([{ name: "tabs", records: 2, bytes: 5 }]);
      clock.now = 1_700_000_001_999; // floor = ...001 s; expiry = ...002 s → still live
      expect(record(e, "tabs", "t")).not.toBeNull();
      clock.now = 1_700_000_002_000;
      expect(record(e, "tabs", "t")).toBeNull();
      expect(support.ids(e, "tabs")).toEqual(["u"]);
      expect(totals(e)).toEqual([{ name: "tabs", records: 1, bytes: 2 }]);
      expect(used(e)).toBe(2 + 1 + RECORD_OVERHEAD);
      expect(collections(e)?.map(([name]) => name)).toEqual(["tabs"]);
    });
  });

  it("S11-12: ttl 0 is invisible at once; a PUT without ttl makes a record permanent again", async () => {
    await withEngine((e, clock) => {
      put(e, "c", { id: "1", payload: "a", ttl: 0 });
      expect(record(e, "c", "1")).toBeNull();
      put(e, "c", { id: "1", sortindex: 3 });
      clock.now += 10 * 365 * 86400 * 1000;
      expect(record(e, "c", "1")).toMatchObject({ payload: "a", sortindex: 3 });
    });
  });

  it("counters stay exact through updates and deletes", async () => {
    await withEngine((e) => {
      e.post({
        collection: "h",
        records: Array.from({ length: 20 }, (_, i) => ({ id: String(i), payload: "x".repeat(i) })),
        quota: null,
      });
      put(e, "h", { id: "3", payload: "y".repeat(100) });
      e.deleteRecords({ collection: "h", ids: ["0", "1", "2"] });
      e.deleteRecord({ collection: "h", id: "19" });
      const expectBytes = Array.from({ length: 20 }, (_, i) => i).filter((i) => ![0, 1, 2, 19, 3].includes(i)).reduce((a, b) => a + b, 0) + 100;
      expect(totals(e)).toEqual([{ name: "h", records: 16, bytes: expectBytes }]);
      e.deleteStorage({});
      expect(totals(e)).toEqual([]);
      expect(used(e)).toBe(0);
    });
  });

  it("purge (profiles that purge) removes only records expired longer than the grace period, keeping totals exact", async () => {
    await support.withEngine(PROFILE_1_5, (e, clock) => {
      put(e, "c", { id: "old", payload: "aaaa", ttl: 1 });
      put(e, "c", { id: "keep", payload: "bb" });
      clock.now += 5000;
      put(e, "c", { id: "recent", payload: "c", ttl: 1 });
      clock.now += PURGE_GRACE_MS - 2000;
      expect(e.purgeExpired()).toBe(1);
      expect(e.purgeExpired()).toBe(0);
      const totalsNow = totals(e);
      expect(totalsNow).toEqual([{ name: "c", records: 1, bytes: 2 }]);
    });
  });
});

describe("engine: schema", () => {
  it("migrations are recorded and re-running them is a no-op", async () => {
    await withEngine((_e, _clock, sql) => {
      const latest = Math.max(...MIGRATIONS.map((m) => m.version));
      expect(migrate(sql)).toBe(latest);
      expect(sql.one<{ value: number }>(`SELECT value FROM meta WHERE key = 'schema_version'`)?.value).toBe(latest);
    });
  });

  it("migration 3 computes the record occupancy of a version-2 store's existing rows", async () => {
    await withEngine((_e, _clock, sql) => {
      // Roll this store back to version 2 with rows written then, and upgrade it again.
      // (Version 4 replaced the triggers; a store at version 3 still has them.)
      sql.run(`DROP TABLE bso`);
      sql.run(`DROP TABLE collections`);
      sql.run(`DROP TABLE batch_items`);
      sql.run(`DROP TABLE batches`);
      sql.run(`DELETE FROM meta`);
      expect(migrate(sql, MIGRATIONS.filter((m) => m.version <= 2))).toBe(2);
      sql.run(`INSERT INTO bso (collection, id, parentid, payload, payload_size, modified) VALUES ('c', 'abc', 'p', 'xy', 2, 10), ('c', 'd', NULL, NULL, 0, NULL)`);
      expect(migrate(sql, MIGRATIONS.filter((m) => m.version <= 3))).toBe(3);
      const row = sql.one<{ size: number; bytes: number; records: number }>(`SELECT size, bytes, records FROM collections WHERE name = 'c'`);
      expect(row).toEqual({ size: 2 + 3 + 1 + RECORD_OVERHEAD + 1 + RECORD_OVERHEAD, bytes: 2, records: 2 });
      // The version-3 triggers keep it exact.
      sql.run(`UPDATE bso SET parentid = NULL WHERE id = 'abc'`);
      sql.run(`DELETE FROM bso WHERE id = 'd'`);
      expect(sql.one(`SELECT size FROM collections WHERE name = 'c'`)).toEqual({ size: 2 + 3 + RECORD_OVERHEAD });
      // Version 4 carries the counters over as they are.
      expect(migrate(sql)).toBe(Math.max(...MIGRATIONS.map((m) => m.version)));
      expect(sql.one(`SELECT size, bytes, records FROM collections WHERE name = 'c'`)).toEqual({ size: 2 + 3 + RECORD_OVERHEAD, bytes: 2, records: 1 });
    });
  });

  it("duplicate migration versions are refused", async () => {
    await withEngine((_e, _clock, sql) => {
      expect(() => migrate(sql, [...MIGRATIONS, { ...(MIGRATIONS[0] as (typeof MIGRATIONS)[number]) }])).toThrow(/duplicate/);
    });
  });

  it("a failing migration leaves the database at the previous version", async () => {
    await withEngine((_e, _clock, sql) => {
      const before = migrate(sql);
      const broken = [...MIGRATIONS, { version: before + 1, name: "broken", statements: ["CREATE TABLE x (a)", "NOT SQL"] }];
      expect(() => migrate(sql, broken)).toThrow();
      expect(sql.one<{ value: number }>(`SELECT value FROM meta WHERE key = 'schema_version'`)?.value).toBe(before);
      expect(sql.all(`SELECT name FROM sqlite_master WHERE name = 'x'`)).toEqual([]);
    });
  });
});

describe("UserStore (Durable Object shell)", () => {
  it("S15-4.2: a 1.5 TTL write arms the purge alarm, and the alarm runs", async () => {
    const stub = freshStub("uid:");
    await stub.put({ collection: "tabs", record: { id: "t", payload: "x", ttl: 60 }, quota: null });
    const alarm = await runInDurableObject(stub, (_o, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThan(Date.now() + PURGE_GRACE_MS);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
  });

  it("S11-12: 1.1 TTL writes arm no purge (expired rows keep counting for info/collections)", async () => {
    const stub = freshStub("acct:");
    await stub.put({ collection: "tabs", record: { id: "t", payload: "x", ttl: 60 }, quota: null });
    expect(await runInDurableObject(stub, (_o, state) => state.storage.getAlarm())).toBeNull();
  });

  it("U10-7.3: wipe() erases every record and the object stays usable", async () => {
    const stub = freshStub("acct:") as unknown as StoreApi;
    await stub.put({ collection: "c", record: { id: "a", payload: "x" }, quota: null });
    await stub.wipe();
    expect(ok(await stub.info({ view: "collections" })).collections).toEqual([]);
    await stub.put({ collection: "c", record: { id: "b", payload: "y" }, quota: null });
    expect(ok(await stub.list({ collection: "c", full: false })).records.map((r) => r.id)).toEqual(["b"]);
  });
});
