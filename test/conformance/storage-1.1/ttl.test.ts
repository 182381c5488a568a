/**
 * S11-12 (TTL). Visibility rules are tested on the engine with a fake
 * clock (no sleeping); the wire behaviour with ttl 0 (expired at once).
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { UserStore } from "../../../src/objects/user-store";
import { StorageEngine } from "../../../src/storage/engine";
import { durableObjectSql } from "../../../src/storage/sql";
import type { RecordFields } from "../../../src/storage/types";
import { call, expectError, expectOk, PLAIN, plain, register, tsMs } from "./_helpers";

async function withEngine<T>(fn: (e: StorageEngine, clock: { now: number }) => T): Promise<T> {
  const stub = env.USER_STORE.get(env.USER_STORE.idFromName(`ttl-conf-${crypto.randomUUID()}`));
  return runInDurableObject(stub, async (_obj: UserStore, state) => {
    const clock = { now: 1_700_000_000_250 };
    return fn(new StorageEngine(durableObjectSql(state.storage), () => clock.now), clock);
  });
}
const put = (e: StorageEngine, record: RecordFields, extra = {}) => e.put({ dialect: "1.1", collection: "c", record, quota: null, ...extra });
const ids = (e: StorageEngine) => e.list({ dialect: "1.1", collection: "c", full: false }).records.map((r) => r.id);

describe("TTL (engine, fake clock)", () => {
  it("S11-12: expiry = floor(now) + ttl; live ⇔ expiry > floor(now) (ttl 2 visible for 1.999 s after the second boundary, gone at +2 s)", async () => {
    await withEngine((e, clock) => {
      put(e, { id: "t", payload: "x", ttl: 2 });
      clock.now = 1_700_000_001_999;
      expect(ids(e)).toEqual(["t"]);
      expect(e.get("1.1", "c", "t").record).not.toBeNull();
      clock.now = 1_700_000_002_000;
      expect(ids(e)).toEqual([]);
      expect(e.get("1.1", "c", "t").record).toBeNull();
    });
  });

  it("S11-12: ttl 0 expires at once (invisible within the same second)", async () => {
    await withEngine((e) => {
      put(e, { id: "z", payload: "x", ttl: 0 });
      expect(ids(e)).toEqual([]);
      expect(e.collectionTotals("1.1").totals).toEqual([]);
    });
  });

  it("S11-12: expired rows are hidden from counts, usage and quota but not from info/collections timestamps", async () => {
    await withEngine((e, clock) => {
      const live = put(e, { id: "live", payload: "abc" });
      const dying = put(e, { id: "dying", payload: "defgh", ttl: 1 });
      if (!live.ok || !dying.ok) throw new Error("write failed");
      clock.now += 5000;
      expect(e.collectionTotals("1.1").totals).toEqual([{ name: "c", records: 1, bytes: 3 }]);
      expect(e.usage("1.1").used).toBe(3);
      expect(e.collectionTimestamps().collections).toEqual([["c", dying.ts]]);
    });
  });

  it("S11-12 / S11-10: X-If-Unmodified-Since sees expired rows", async () => {
    await withEngine((e, clock) => {
      const w = put(e, { id: "d", payload: "x", ttl: 1 });
      if (!w.ok) throw new Error("write failed");
      clock.now += 10_000;
      const r = e.deleteRecord({ collection: "c", id: "other", ifUnmodifiedSince: w.ts - 10 });
      expect(r.ok).toBe(false);
    });
  });

  it("S11-8.7 / S11-12: an expired row is updated in place; the PUT answers its old modified when no payload is sent", async () => {
    await withEngine((e, clock) => {
      const w = put(e, { id: "x", payload: "old", sortindex: 1, ttl: 1 });
      if (!w.ok) throw new Error("write failed");
      clock.now += 10_000;
      const u = put(e, { id: "x", sortindex: 2 });
      expect(u.ok && u.modified).toBe(w.ts);
      // No ttl → never expires: the old payload is visible again.
      expect(e.get("1.1", "c", "x").record).toMatchObject({ payload: "old", sortindex: 2, modified: w.ts });
    });
  });

  it("S11-8.7 REF-QUIRK: a PUT without ttl on a TTL'd record makes it permanent", async () => {
    await withEngine((e, clock) => {
      put(e, { id: "x", payload: "a", ttl: 5 });
      put(e, { id: "x", sortindex: 3 });
      clock.now += 3_600_000;
      expect(ids(e)).toEqual(["x"]);
    });
  });

  it("S11-12: a POST element without ttl on a TTL'd record resets it to never", async () => {
    await withEngine((e, clock) => {
      put(e, { id: "x", payload: "a", ttl: 5 });
      e.post({ dialect: "1.1", collection: "c", records: [{ id: "x", sortindex: 1 }], failed: {}, quota: null });
      clock.now += 3_600_000;
      expect(ids(e)).toEqual(["x"]);
    });
  });

  it("S11-8.8 / S11-12: batch elements get their own ttl; without ttl → never", async () => {
    await withEngine((e, clock) => {
      e.post({ dialect: "1.1", collection: "c", records: [{ id: "a", payload: "1", ttl: 3 }, { id: "b", payload: "2" }, { id: "c", ttl: 100 }], failed: {}, quota: null });
      clock.now += 4_000;
      expect(ids(e)).toEqual(["b", "c"]);
      clock.now += 100_000;
      expect(ids(e)).toEqual(["b"]);
    });
  });

  it("S11-8.9 / S11-12: DELETE removes expired matching rows too", async () => {
    await withEngine((e, clock) => {
      put(e, { id: "a", payload: "1", ttl: 1 });
      clock.now += 5_000;
      const d = e.deleteRecords({ dialect: "1.1", collection: "c" });
      expect(d.ok && d.deleted).toBe(1);
      expect(e.collectionTimestamps().collections).toEqual([]);
    });
  });

  it("S11-11 / S11-12: quota usage ignores expired payloads (an expired record no longer blocks writes)", async () => {
    await withEngine((e, clock) => {
      put(e, { id: "big", payload: "x".repeat(200), ttl: 1 });
      expect(put(e, { id: "n", payload: "y" }, { quota: 100 }).ok).toBe(false);
      clock.now += 2_000;
      expect(put(e, { id: "n", payload: "y" }, { quota: 100 }).ok).toBe(true);
    });
  });
});

describe("TTL (wire)", () => {
  it("S11-12: ttl 0 record: GET item 404, absent from lists/counts/usage/quota, present in info/collections", async () => {
    const a = await register("ttl0");
    const w = await call(a, "PUT", "/storage/c/gone", { body: { payload: "abcd", ttl: 0 } });
    expectOk(w);
    expectError(await call(a, "GET", "/storage/c/gone"), 404, PLAIN, plain(404));
    expect((await call(a, "GET", "/storage/c")).text).toBe("[]");
    expect((await call(a, "GET", "/info/collection_counts")).text).toBe("{}");
    expect((await call(a, "GET", "/info/collection_usage")).text).toBe("{}");
    expect((await call(a, "GET", "/info/quota")).text).toBe("[0.0, 5120]");
    expect((await call(a, "GET", "/info/collections")).text).toBe(`{"c": ${w.text}}`);
    // X-If-Unmodified-Since sees it.
    const stale = ((tsMs(w.text) - 10) / 1000).toFixed(2);
    expectError(await call(a, "PUT", "/storage/c/x", { body: { payload: "y" }, headers: { "X-If-Unmodified-Since": stale } }), 412, PLAIN, plain(412, "c"));
  });

  it("S11-12: overwriting an expired record with a new payload and no ttl makes it live again", async () => {
    const a = await register("ttl-revive");
    await call(a, "PUT", "/storage/c/r", { body: { payload: "old", ttl: 0 } });
    const w = await call(a, "PUT", "/storage/c/r", { body: { payload: "new" } });
    expect((await call(a, "GET", "/storage/c/r")).text).toBe(`{"payload": "new", "id": "r", "modified": ${w.text}}`);
  });

  it("S11-12: ttl is never returned in GET output", async () => {
    const a = await register("ttl-hidden");
    const w = await call(a, "PUT", "/storage/c/t", { body: { payload: "p", ttl: 3600 } });
    expect((await call(a, "GET", "/storage/c/t")).text).toBe(`{"payload": "p", "id": "t", "modified": ${w.text}}`);
  });

  it("S11-12 (peer test, one short sleep): ttl 2 is visible at once and gone 2.1 s later", async () => {
    const a = await register("ttl-sleep");
    await call(a, "PUT", "/storage/c/t", { body: { payload: "p", ttl: 2 } });
    expect((await call(a, "GET", "/storage/c")).text).toBe('["t"]');
    await new Promise((r) => setTimeout(r, 2100));
    expect((await call(a, "GET", "/storage/c")).text).toBe("[]");
  });
});
