/**
 * Engine rules, run on a real Durable Object's SQLite through runInDurableObject,
 * with a controllable clock. Names cite the spec rule each test checks.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { PURGE_GRACE_MS, StorageEngine } from "../../src/storage/engine";
import { MIGRATIONS, migrate } from "../../src/storage/schema";
import { durableObjectSql, type SqlPort } from "../../src/storage/sql";
import type { UserStore } from "../../src/objects/user-store";

let n = 0;
function freshStub() {
  n += 1;
  return env.USER_STORE.get(env.USER_STORE.idFromName(`engine-test-${n}-${crypto.randomUUID()}`));
}

/** Runs `fn` with an engine over a fresh DO's storage and a clock the test moves. */
async function withEngine<T>(fn: (e: StorageEngine, clock: { now: number }, sql: SqlPort) => T | Promise<T>): Promise<T> {
  return runInDurableObject(freshStub(), async (_obj: UserStore, state) => {
    const clock = { now: 1_700_000_000_000 };
    const sql = durableObjectSql(state.storage);
    return fn(new StorageEngine(sql, () => clock.now), clock, sql);
  });
}

const put = (e: StorageEngine, collection: string, record: Parameters<StorageEngine["put"]>[0]["record"], extra = {}) =>
  e.put({ dialect: "1.1", collection, record, quota: null, ...extra });

describe("engine: timestamps", () => {
  it("S11-17 / S15-5.4: writes in the same 10 ms tick get strictly increasing timestamps", async () => {
    await withEngine((e) => {
      const a = put(e, "c", { id: "1", payload: "a" });
      const b = put(e, "c", { id: "2", payload: "b" });
      const c = put(e, "d", { id: "3", payload: "c" });
      if (!a.ok || !b.ok || !c.ok) throw new Error("write failed");
      expect(b.ts).toBe(a.ts + 10);
      expect(c.ts).toBe(b.ts + 10);
      expect(e.collectionTimestamps().ts).toBe(c.ts);
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
      expect(e.get("1.1", "c", "1").record).toMatchObject({ payload: "a", sortindex: 5, modified: first.modified });
    });
  });

  it("S11-8.8 step 6: POST stamps every element, payload or not", async () => {
    await withEngine((e) => {
      put(e, "c", { id: "1", payload: "a" });
      const r = e.post({ dialect: "1.1", collection: "c", records: [{ id: "1", sortindex: 2 }, { id: "2" }], failed: {}, quota: null });
      if (!r.ok) throw new Error("post failed");
      expect(e.get("1.1", "c", "1").record?.modified).toBe(r.ts);
      expect(e.get("1.1", "c", "2").record?.modified).toBe(r.ts);
    });
  });

  it("S11-10: a failed precondition writes nothing; equality passes", async () => {
    await withEngine((e) => {
      const a = put(e, "c", { id: "1", payload: "a" });
      if (!a.ok) throw new Error("write failed");
      const refused = put(e, "c", { id: "2", payload: "b" }, { ifUnmodifiedSince: a.ts - 10 });
      expect(refused).toMatchObject({ ok: false, failure: { kind: "precondition-failed" } });
      expect(e.get("1.1", "c", "2").record).toBeNull();
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
      const a = put(e, "c", { id: "1", payload: "x".repeat(90) }, { quota: 100 });
      expect(a).toMatchObject({ ok: true, usedBefore: 0 });
      const b = put(e, "c", { id: "2", payload: "x".repeat(90) }, { quota: 100 });
      expect(b).toMatchObject({ ok: true, usedBefore: 90 });
      expect(put(e, "c", { id: "3", payload: "x" }, { quota: 100 })).toMatchObject({ ok: false, failure: { kind: "over-quota" } });
    });
  });
});

describe("engine: TTL and totals", () => {
  it("S11-12: ttl counts whole seconds; expired records vanish from reads and totals but not from info/collections", async () => {
    await withEngine((e, clock) => {
      clock.now = 1_700_000_000_900;
      put(e, "tabs", { id: "t", payload: "abc", ttl: 2 });
      put(e, "tabs", { id: "u", payload: "de" });
      expect(e.collectionTotals("1.1").totals).toEqual([{ name: "tabs", records: 2, bytes: 5 }]);
      clock.now = 1_700_000_001_999; // floor = ...001 s; expiry = ...002 s → still live
      expect(e.get("1.1", "tabs", "t").record).not.toBeNull();
      clock.now = 1_700_000_002_000;
      expect(e.get("1.1", "tabs", "t").record).toBeNull();
      expect(e.list({ dialect: "1.1", collection: "tabs", full: false }).records.map((r) => r.id)).toEqual(["u"]);
      expect(e.collectionTotals("1.1").totals).toEqual([{ name: "tabs", records: 1, bytes: 2 }]);
      expect(e.usage("1.1").used).toBe(2);
      const ts = e.collectionTimestamps().collections;
      expect(ts.map(([name]) => name)).toEqual(["tabs"]);
    });
  });

  it("S11-12: ttl 0 is invisible at once; a PUT without ttl makes a record permanent again", async () => {
    await withEngine((e, clock) => {
      put(e, "c", { id: "1", payload: "a", ttl: 0 });
      expect(e.get("1.1", "c", "1").record).toBeNull();
      put(e, "c", { id: "1", sortindex: 3 });
      clock.now += 10 * 365 * 86400 * 1000;
      expect(e.get("1.1", "c", "1").record).toMatchObject({ payload: "a", sortindex: 3 });
    });
  });

  it("counters kept by triggers stay exact through updates and deletes", async () => {
    await withEngine((e) => {
      e.post({
        dialect: "1.1",
        collection: "h",
        records: Array.from({ length: 20 }, (_, i) => ({ id: String(i), payload: "x".repeat(i) })),
        failed: {},
        quota: null,
      });
      put(e, "h", { id: "3", payload: "y".repeat(100) });
      e.deleteRecords({ dialect: "1.1", collection: "h", ids: ["0", "1", "2"] });
      e.deleteRecord({ collection: "h", id: "19" });
      const expectBytes = Array.from({ length: 20 }, (_, i) => i).filter((i) => ![0, 1, 2, 19, 3].includes(i)).reduce((a, b) => a + b, 0) + 100;
      expect(e.collectionTotals("1.1").totals).toEqual([{ name: "h", records: 16, bytes: expectBytes }]);
      e.deleteAll();
      expect(e.collectionTotals("1.1").totals).toEqual([]);
      expect(e.usage("1.1").used).toBe(0);
    });
  });

  it("purge removes only records expired longer than the grace period, keeping totals exact", async () => {
    await withEngine((e, clock) => {
      put(e, "c", { id: "old", payload: "aaaa", ttl: 1 });
      put(e, "c", { id: "keep", payload: "bb" });
      clock.now += 5000;
      put(e, "c", { id: "recent", payload: "c", ttl: 1 });
      clock.now += PURGE_GRACE_MS - 2000;
      expect(e.purgeExpired()).toBe(1);
      expect(e.purgeExpired()).toBe(0);
      const totalsNow = e.collectionTotals("1.1").totals;
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
    const stub = freshStub();
    await stub.put({ dialect: "1.5", collection: "tabs", record: { id: "t", payload: "x", ttl: 60 }, quota: null });
    const alarm = await runInDurableObject(stub, (_o, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThan(Date.now() + PURGE_GRACE_MS);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
  });

  it("S11-12: 1.1 TTL writes arm no purge (expired rows keep counting for info/collections)", async () => {
    const stub = freshStub();
    await stub.put({ dialect: "1.1", collection: "tabs", record: { id: "t", payload: "x", ttl: 60 }, quota: null });
    expect(await runInDurableObject(stub, (_o, state) => state.storage.getAlarm())).toBeNull();
  });

  it("U10-7.3: wipe() erases every record and the object stays usable", async () => {
    const stub = freshStub();
    await stub.put({ dialect: "1.1", collection: "c", record: { id: "a", payload: "x" }, quota: null });
    await stub.wipe();
    expect((await stub.collectionTimestamps()).collections).toEqual([]);
    await stub.put({ dialect: "1.1", collection: "c", record: { id: "b", payload: "y" }, quota: null });
    expect((await stub.list({ dialect: "1.1", collection: "c", full: false })).records.map((r) => r.id)).toEqual(["b"]);
  });
});
